//! Per-user budgets across all of a user's connections: signed-in
//! connections and running commands, each held by a guard that gives its
//! unit back when dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Usage {
    connections: usize,
    commands: usize,
}

/// What every user holds now.
#[derive(Default)]
pub(crate) struct Budgets {
    users: Mutex<HashMap<Arc<str>, Usage>>,
}

#[derive(Clone, Copy)]
enum Kind {
    Connection,
    Command,
}

/// One unit of a user's budget, returned when dropped.
pub(crate) struct Held {
    budgets: Arc<Budgets>,
    user: Arc<str>,
    kind: Kind,
}

impl Budgets {
    fn take(self: &Arc<Self>, user: &Arc<str>, kind: Kind, max: usize) -> Option<Held> {
        let mut users = self.users.lock().expect("budget lock");
        let usage = users.entry(user.clone()).or_default();
        let n = match kind {
            Kind::Connection => &mut usage.connections,
            Kind::Command => &mut usage.commands,
        };
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Held {
            budgets: self.clone(),
            user: user.clone(),
            kind,
        })
    }

    /// A signed-in connection for `user`, if under `max`.
    pub fn connection(self: &Arc<Self>, user: &Arc<str>, max: usize) -> Option<Held> {
        self.take(user, Kind::Connection, max)
    }

    /// A running command for `user`, if under `max`.
    pub fn command(self: &Arc<Self>, user: &Arc<str>, max: usize) -> Option<Held> {
        self.take(user, Kind::Command, max)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut users = self.budgets.users.lock().expect("budget lock");
        if let Some(u) = users.get_mut(&self.user) {
            match self.kind {
                Kind::Connection => u.connections -= 1,
                Kind::Command => u.commands -= 1,
            }
            if u.connections == 0 && u.commands == 0 {
                users.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_per_user_and_come_back() {
        let b = Arc::new(Budgets::default());
        let (alice, bob): (Arc<str>, Arc<str>) = ("alice".into(), "bob".into());
        let a1 = b.connection(&alice, 2).unwrap();
        let _a2 = b.connection(&alice, 2).unwrap();
        assert!(b.connection(&alice, 2).is_none());
        assert!(b.connection(&bob, 2).is_some(), "bob has his own");
        let c = b.command(&alice, 1).unwrap();
        assert!(b.command(&alice, 1).is_none());
        drop(a1);
        assert!(b.connection(&alice, 2).is_some());
        drop(c);
        assert!(b.command(&alice, 1).is_some());
    }
}
