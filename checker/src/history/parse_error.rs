//! Why a history line did not parse: the one error of the parser, kept apart so that every
//! part of the reader can name it without importing the parser.

/// Why a line did not parse.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub reason: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    pub(super) fn new(reason: impl Into<String>) -> ParseError {
        ParseError { reason: reason.into() }
    }

    pub(super) fn json(e: &serde_json::Error) -> ParseError {
        // serde_json appends " at line 1 column N"; within one history line only the column
        // means something.
        let text = e.to_string();
        let stem = match text.rfind(" at line ") {
            Some(i) => &text[..i],
            None => &text,
        };
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not valid JSON: ",
            _ => "",
        };
        ParseError::new(format!("{what}{stem} (column {})", e.column()))
    }
}
