//! One place where every stage reports what it cannot handle.

use proc_macro2::Span;
use std::cell::RefCell;
use std::fmt::Display;

/// Errors collected across all stages and reported together, so that a user
/// sees every problem of a function in one build.
#[derive(Default)]
pub struct Errors {
    errors: RefCell<Option<syn::Error>>,
}

impl Errors {
    pub fn push(&self, error: syn::Error) {
        let mut slot = self.errors.borrow_mut();
        match slot.as_mut() {
            Some(all) => all.combine(error),
            None => *slot = Some(error),
        }
    }

    pub fn at(&self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    pub fn spanned(&self, tokens: impl quote::ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub fn is_empty(&self) -> bool {
        self.errors.borrow().is_none()
    }

    pub fn finish(self) -> Result<(), syn::Error> {
        match self.errors.into_inner() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
