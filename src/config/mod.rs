//! The OpenSSH client configuration: a lossless document ([`document`]),
//! the line lexer it rests on ([`lexer`]), and an evaluator that agrees
//! with `ssh -G` ([`resolve`]).

pub mod document;
pub mod files;
pub mod keywords;
pub mod lexer;
pub mod pattern;
pub mod resolve;

pub use document::{Block, BlockAt, BlockKind, Document, EditError, Encoding, LineEnding};
pub use resolve::{Context, Resolved, Source, resolve, resolve_file};
