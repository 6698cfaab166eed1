//! Rules: an absolute program plus an argument template of literals and slots.

use std::collections::BTreeMap;

use super::slot::Slot;
use super::{PathResolver, PolicyError};

/// One element of an argument template.
#[derive(Debug, Clone)]
pub enum Element {
    /// Must equal the argument exactly.
    Literal(String),
    /// Exactly one argument checked by the slot.
    Slot(Slot),
    /// Zero or more trailing arguments, each checked by the slot.
    Variadic(Slot),
}

/// A named command: the program to execute and its argument template.
#[derive(Debug, Clone)]
pub struct Rule {
    name: String,
    program: String,
    elements: Vec<Element>,
    detach: bool,
}

impl Rule {
    /// Build a rule. `program` must already be resolved to an absolute path;
    /// `args` is the template after the program (`{name}` is a slot,
    /// `{name...}` a variadic tail, anything else a literal). Every slot
    /// used must be in `slots`, and every slot in `slots` must be used.
    pub fn new(
        name: &str,
        program: &str,
        args: &[String],
        mut slots: BTreeMap<String, Slot>,
    ) -> Result<Self, PolicyError> {
        if !super::slot::is_normal_absolute(program) || program == "/" {
            return Err(PolicyError::ProgramNotAbsolute(program.to_string()));
        }
        let mut used: BTreeMap<String, Slot> = BTreeMap::new();
        let mut elements = Vec::with_capacity(args.len());
        for (i, arg) in args.iter().enumerate() {
            let element = match parse_element(arg)? {
                Parsed::Literal => Element::Literal(arg.clone()),
                Parsed::Slot(slot_name, variadic) => {
                    if variadic && i + 1 != args.len() {
                        return Err(PolicyError::VariadicNotLast(arg.clone()));
                    }
                    let slot = match slots.get(slot_name) {
                        Some(s) => s.clone(),
                        None if used.contains_key(slot_name) => used[slot_name].clone(),
                        None => return Err(PolicyError::UndeclaredSlot(slot_name.to_string())),
                    };
                    used.insert(slot_name.to_string(), slot.clone());
                    slots.remove(slot_name);
                    if variadic {
                        Element::Variadic(slot)
                    } else {
                        Element::Slot(slot)
                    }
                }
            };
            elements.push(element);
        }
        if let Some(unused) = slots.keys().next() {
            return Err(PolicyError::UnusedSlot(unused.clone()));
        }
        Ok(Self {
            name: name.to_string(),
            program: program.to_string(),
            elements,
            detach: false,
        })
    }

    /// The same rule, saying whether it may run as a detached job.
    pub fn with_detach(mut self, detach: bool) -> Self {
        self.detach = detach;
        self
    }

    /// `detach = true`: anyone allowed this command may start it detached.
    pub fn may_detach(&self) -> bool {
        self.detach
    }

    /// The command's name in the configuration.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The absolute program path that is executed.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The template after the program.
    pub fn elements(&self) -> &[Element] {
        &self.elements
    }

    /// True when `argv0` names this rule's program: its absolute path, or
    /// its file name (mapped to the path resolved at load; no PATH search).
    pub fn names_program(&self, argv0: &str) -> bool {
        argv0 == self.program || Some(argv0) == self.program.rsplit('/').next()
    }

    /// Match a whole argv. On success returns the argv to execute (the
    /// program path, then the arguments exactly as given).
    pub fn check(&self, argv: &[String], fs: &dyn PathResolver) -> Result<Vec<String>, String> {
        let Some((argv0, args)) = argv.split_first() else {
            return Err("empty argv".into());
        };
        if !self.names_program(argv0) {
            return Err(format!("program {argv0:?} is not {}", self.program));
        }
        let mut rest = args;
        for (i, element) in self.elements.iter().enumerate() {
            match element {
                Element::Variadic(slot) => {
                    for arg in rest {
                        slot.check(arg, fs)?;
                    }
                    rest = &[];
                }
                _ => {
                    let Some((arg, tail)) = rest.split_first() else {
                        return Err(format!(
                            "missing argument {} ({})",
                            i + 1,
                            describe(element)
                        ));
                    };
                    match element {
                        Element::Literal(lit) if lit != arg => {
                            return Err(format!("argument {} is {arg:?}, expected {lit:?}", i + 1))
                        }
                        Element::Slot(slot) => slot.check(arg, fs)?,
                        _ => {}
                    }
                    rest = tail;
                }
            }
        }
        if let Some(extra) = rest.first() {
            return Err(format!(
                "extra argument {} ({extra:?}) beyond the template",
                argv.len() - rest.len()
            ));
        }
        let mut exec = Vec::with_capacity(argv.len());
        exec.push(self.program.clone());
        exec.extend(args.iter().cloned());
        Ok(exec)
    }
}

fn describe(element: &Element) -> String {
    match element {
        Element::Literal(l) => format!("{l:?}"),
        Element::Slot(s) | Element::Variadic(s) => format!("{{{}}}", s.name()),
    }
}

enum Parsed<'a> {
    Literal,
    Slot(&'a str, bool),
}

fn parse_element(arg: &str) -> Result<Parsed<'_>, PolicyError> {
    if !arg.contains(['{', '}']) {
        return Ok(Parsed::Literal);
    }
    let inner = arg
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(|| PolicyError::BadElement(arg.to_string()))?;
    let (name, variadic) = match inner.strip_suffix("...") {
        Some(n) => (n, true),
        None => (inner, false),
    };
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(PolicyError::BadElement(arg.to_string()));
    }
    Ok(Parsed::Slot(name, variadic))
}
