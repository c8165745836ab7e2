//! Step 1 of ODiS: the raw quality dimensions of a text without an LLM: bounded,
//! higher-is-better ratings, and the text statistics behind them.

pub mod quality_ratings;
pub mod quality_ratings_vector;
pub mod quality_signals;
pub mod quality_signals_vector;
pub mod text_ratings;
pub mod text_signals;
