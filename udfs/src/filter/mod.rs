//! Step 0 of ODiS: the published document quality rules (Gopher, C4, FineWeb)
//! a document must pass before it is rated.

pub mod datatrove;
pub mod filter_rules;
pub mod quality_filter;
