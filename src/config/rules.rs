//! `[commands.NAME]`: an argv template with typed slots, its program
//! resolved against `exec.path` once, here, never on client input.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::raw::{RawCommand, RawSlot};
use super::server::Cx;
use super::ConfigError;
use crate::policy::{Rule, Slot};

impl Cx<'_> {
    /// Compile `[commands.NAME]`.
    pub(super) fn rule(
        &self,
        name: &str,
        cmd: &RawCommand,
        search: &str,
    ) -> Result<Rule, ConfigError> {
        let argv = cmd.argv.get_ref();
        let Some((program, args)) = argv.split_first() else {
            return Err(self.at(&cmd.argv, format!("command {name:?} has an empty argv")));
        };
        if program.contains(['{', '}']) {
            return Err(self.at(
                &cmd.argv,
                "the program (argv[0]) must be literal, not a slot",
            ));
        }
        let resolved = if program.starts_with('/') {
            program.clone()
        } else if program.contains('/') {
            return Err(self.at(
                &cmd.argv,
                format!("program {program:?} must be an absolute path or a bare name"),
            ));
        } else {
            resolve_program(program, search)
                .ok_or_else(|| {
                    self.at(
                        &cmd.argv,
                        format!("program {program:?} not found in exec.path"),
                    )
                })?
                .to_string_lossy()
                .into_owned()
        };
        let mut slots = BTreeMap::new();
        for (slot_name, spec) in &cmd.slots {
            let slot =
                build_slot(slot_name.get_ref(), spec.get_ref()).map_err(|m| self.at(spec, m))?;
            slots.insert(slot_name.get_ref().clone(), slot);
        }
        Rule::new(name, &resolved, args, slots)
            .map_err(|e| self.at(&cmd.argv, format!("command {name:?}: {e}")))
    }
}

fn build_slot(name: &str, spec: &RawSlot) -> Result<Slot, String> {
    let kinds = [
        spec.regex.is_some(),
        spec.values.is_some(),
        spec.int.is_some(),
        spec.path_under.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(format!(
            "slot {name:?} needs exactly one of regex, enum, int, path_under"
        ));
    }
    let dash = spec.allow_dash;
    let slot = if let Some(re) = &spec.regex {
        Slot::regex(name, re, dash)
    } else if let Some(values) = &spec.values {
        Slot::one_of(name, values.clone(), dash)
    } else if let Some([min, max]) = spec.int {
        Slot::int(name, min, max, dash)
    } else {
        Slot::path_under(name, spec.path_under.as_deref().unwrap_or_default(), dash)
    };
    slot.map_err(|e| e.to_string())
}

/// Find `name` in the colon-separated `search` directories: the first
/// regular, executable file. Used only at load, never on client input.
pub fn resolve_program(name: &str, search: &str) -> Option<PathBuf> {
    search
        .split(':')
        .filter(|d| d.starts_with('/'))
        .find_map(|dir| {
            let candidate = Path::new(dir).join(name);
            let meta = std::fs::metadata(&candidate).ok()?;
            (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(candidate)
        })
}
