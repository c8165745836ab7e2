//! Step 1 of ODiS: the raw quality dimensions of a text without an LLM: bounded,
//! higher-is-better ratings, and the text statistics behind them.
//!
//! [`text_ratings`] and [`text_signals`] own what each family measures and
//! how it is documented; [`quality_functions`] is the one SQL function
//! around a family, as a struct or as a list.

pub mod quality_functions;
pub mod text_ratings;
pub mod text_signals;
