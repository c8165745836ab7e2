//! The plan layer under the SQL functions: what every table function needs
//! to read its arguments and run plans of its own, here or on a cluster.
//!
//! [`table_args`] (arguments: tables, columns, budgets, specs), [`budget`]
//! (the one budget type), [`id_keys`] (ids of any orderable type as compact
//! keys), [`remote`] (the session's cluster; [`remote::run`], which runs a
//! plan there or here; [`remote::by_key`], work done one key at a time), [`client`] (table functions whose work runs in the
//! client between plans of their own: [`client::ClientExec`], never sent to a
//! cluster), [`memory`] (sizes, pools, and the dedup functions' bound), [`settings`] (`SET odis.*`), [`stages`] (what a long function
//! tells its caller as it goes), [`work_area`] (where a function keeps the
//! tables it writes between its plans), [`sorted_join`] (a join with a table
//! stored in key order, as a merge), [`sorted_distinct`] (distinct rows by
//! sorting, in the order such a merge takes).

pub mod budget;
pub mod client;
pub mod id_keys;
pub mod memory;
pub mod remote;
pub mod settings;
pub mod sorted_distinct;
pub mod sorted_join;
pub mod stages;
pub mod table_args;
pub mod work_area;
