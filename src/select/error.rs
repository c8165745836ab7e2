//! What can be wrong with a selection's options, in the library's terms:
//! each error names the option at fault as a [`SelectOption`], and is
//! rendered with the caller's names for the options (the field names by
//! default; the `odis select` binary renders its flags).

use std::fmt;

/// An option of a selection, as [`crate::select::SelectOptions`] holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SelectOption {
    Input,
    TextColumn,
    IdColumn,
    Scores,
    Model,
    Budget,
    Components,
    Filter,
    Dedup,
    Diversity,
    Out,
    OutFiles,
    WorkDir,
    Embed,
    Method,
    Clusters,
    Tokenizer,
    FetchMemory,
}

impl SelectOption {
    /// The field of `SelectOptions` that holds it.
    pub fn field(self) -> &'static str {
        match self {
            SelectOption::Input => "input",
            SelectOption::TextColumn => "text_column",
            SelectOption::IdColumn => "id_column",
            SelectOption::Scores => "scores",
            SelectOption::Model => "model",
            SelectOption::Budget => "budget",
            SelectOption::Components => "components",
            SelectOption::Filter => "filter",
            SelectOption::Dedup => "dedup",
            SelectOption::Diversity => "diversity",
            SelectOption::Out => "out",
            SelectOption::OutFiles => "out_files",
            SelectOption::WorkDir => "work_dir",
            SelectOption::Embed => "embed",
            SelectOption::Method => "method",
            SelectOption::Clusters => "clusters",
            SelectOption::Tokenizer => "tokenizer",
            SelectOption::FetchMemory => "fetch_memory",
        }
    }
}

/// Each option's name, as a message writes it.
#[derive(Debug, Clone)]
pub struct OptionNames {
    pub input: String,
    pub text_column: String,
    pub id_column: String,
    pub scores: String,
    pub model: String,
    pub budget: String,
    pub components: String,
    pub filter: String,
    pub dedup: String,
    pub diversity: String,
    pub out: String,
    pub out_files: String,
    pub work_dir: String,
    pub embed: String,
    pub method: String,
    pub clusters: String,
    pub tokenizer: String,
    pub fetch_memory: String,
}

impl OptionNames {
    fn new(name: &dyn Fn(SelectOption) -> String) -> Self {
        OptionNames {
            input: name(SelectOption::Input),
            text_column: name(SelectOption::TextColumn),
            id_column: name(SelectOption::IdColumn),
            scores: name(SelectOption::Scores),
            model: name(SelectOption::Model),
            budget: name(SelectOption::Budget),
            components: name(SelectOption::Components),
            filter: name(SelectOption::Filter),
            dedup: name(SelectOption::Dedup),
            diversity: name(SelectOption::Diversity),
            out: name(SelectOption::Out),
            out_files: name(SelectOption::OutFiles),
            work_dir: name(SelectOption::WorkDir),
            embed: name(SelectOption::Embed),
            method: name(SelectOption::Method),
            clusters: name(SelectOption::Clusters),
            tokenizer: name(SelectOption::Tokenizer),
            fetch_memory: name(SelectOption::FetchMemory),
        }
    }
}

impl OptionNames {
    /// The name of `option`.
    pub fn get(&self, option: SelectOption) -> &str {
        match option {
            SelectOption::Input => &self.input,
            SelectOption::TextColumn => &self.text_column,
            SelectOption::IdColumn => &self.id_column,
            SelectOption::Scores => &self.scores,
            SelectOption::Model => &self.model,
            SelectOption::Budget => &self.budget,
            SelectOption::Components => &self.components,
            SelectOption::Filter => &self.filter,
            SelectOption::Dedup => &self.dedup,
            SelectOption::Diversity => &self.diversity,
            SelectOption::Out => &self.out,
            SelectOption::OutFiles => &self.out_files,
            SelectOption::WorkDir => &self.work_dir,
            SelectOption::Embed => &self.embed,
            SelectOption::Method => &self.method,
            SelectOption::Clusters => &self.clusters,
            SelectOption::Tokenizer => &self.tokenizer,
            SelectOption::FetchMemory => &self.fetch_memory,
        }
    }
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
