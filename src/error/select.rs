//! What can be wrong with a selection's options, in the library's terms:
//! each error names the option at fault as a [`SelectOption`], and is
//! rendered with the caller's names for the options (the field names by
//! default; the `odis select` binary renders its flags).

use std::fmt;

/// The options of a selection, each as an enum variant and a field of
/// [`crate::select::SelectOptions`]: one list makes [`SelectOption`], its
/// field names and [`OptionNames`].
macro_rules! select_options {
    ($($variant:ident => $field:ident),+ $(,)?) => {
        /// An option of a selection, as [`crate::select::SelectOptions`] holds it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum SelectOption {
            $($variant),+
        }

        impl SelectOption {
            /// Every option.
            pub const ALL: &[SelectOption] = &[$(SelectOption::$variant),+];

            /// The field of `SelectOptions` that holds it.
            pub fn field(self) -> &'static str {
                match self {
                    $(SelectOption::$variant => stringify!($field)),+
                }
            }
        }

        /// Each option's name, as a message writes it.
        #[derive(Debug, Clone)]
        pub struct OptionNames {
            $(pub $field: String),+
        }

        impl OptionNames {
            fn new(name: &dyn Fn(SelectOption) -> String) -> Self {
                OptionNames { $($field: name(SelectOption::$variant)),+ }
            }

            /// The name of `option`.
            pub fn get(&self, option: SelectOption) -> &str {
                match option {
                    $(SelectOption::$variant => &self.$field),+
                }
            }
        }
    };
}

select_options! {
    Input => input,
    InputFormat => input_format,
    TextColumn => text_column,
    IdColumn => id_column,
    Scores => scores,
    Model => model,
    Budget => budget,
    Components => components,
    Filter => filter,
    Dedup => dedup,
    Diversity => diversity,
    Out => out,
    OutFiles => out_files,
    WorkDir => work_dir,
    Embed => embed,
    Method => method,
    Clusters => clusters,
    Tokenizer => tokenizer,
    FetchMemory => fetch_memory,
    DedupMemory => dedup_memory,
    Annotations => annotations,
    ReportJson => report_json,
}

type Render = dyn Fn(&OptionNames) -> String + Send + Sync;

/// An option of a selection is wrong: [`SelectError::option`] says which,
/// the message says what and how to fix it, naming options (its own and
/// others it suggests) through whatever names the caller gives them.
pub struct SelectError {
    option: SelectOption,
    render: Box<Render>,
}

impl SelectError {
    /// `render` writes the message, naming options as the names it is
    /// given say.
    pub fn new(option: SelectOption, render: impl Fn(&OptionNames) -> String + Send + Sync + 'static) -> Self {
        SelectError { option, render: Box::new(render) }
    }

    /// The option at fault.
    pub fn option(&self) -> SelectOption {
        self.option
    }

    /// The same error with `more` after its message.
    pub(crate) fn followed_by(self, more: String) -> SelectError {
        let SelectError { option, render } = self;
        SelectError::new(option, move |o| format!("{}{more}", render(o)))
    }

    /// The message with the options named by `name` (e.g. command-line
    /// flags).
    pub fn render(&self, name: &dyn Fn(SelectOption) -> String) -> String {
        (self.render)(&OptionNames::new(name))
    }
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&|o| o.field().to_string()))
    }
}

impl fmt::Debug for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectError").field("option", &self.option).field("message", &self.to_string()).finish()
    }
}

impl std::error::Error for SelectError {}

/// A [`SelectError`] as the library's error.
pub(crate) fn wrong(option: SelectOption, render: impl Fn(&OptionNames) -> String + Send + Sync + 'static) -> crate::OdisError {
    crate::OdisError::Select(SelectError::new(option, render))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_names_the_options() {
        let e = SelectError::new(SelectOption::Budget, |o| format!("{} 9 is more than the corpus; relax {}", o.budget, o.filter));
        assert_eq!(e.option(), SelectOption::Budget);
        assert_eq!(e.to_string(), "budget 9 is more than the corpus; relax filter");
        let flags = e.render(&|o| format!("--{}", o.field().replace('_', "-")));
        assert_eq!(flags, "--budget 9 is more than the corpus; relax --filter");
    }
}
