//! Moving recorded objects to new addresses (`moved` blocks, `imm state
//! mv`): the record goes to the new address with everything it holds (its
//! object's name and id included, so the object is neither replaced nor
//! touched), and so do its artifacts in the ledger and the dependencies
//! other records have on it.

use crate::state::State;

/// One instance moved: its old and new address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub from: String,
    pub to: String,
}

/// What a set of moves did to a state.
#[derive(Debug, Default)]
pub struct MoveOutcome {
    pub moved: Vec<Moved>,
    /// Moves not made, and why (the new address is taken).
    pub refused: Vec<String>,
}

/// Applies moves in order; each moves every record its `from` covers: the
/// instance itself, every instance of a resource (`a.b` covers `a.b[0]`)
/// or everything inside a module (`module.m` covers `module.m.a.b`). A
/// move whose `from` has no record is done already and does nothing.
pub fn apply_moves(state: &mut State, moves: &[(String, String)]) -> MoveOutcome {
    let mut outcome = MoveOutcome::default();
    for (from, to) in moves {
        let renames: Vec<Moved> = state
            .resources
            .iter()
            .filter_map(|r| {
                new_address(&r.address, from, to).map(|new| Moved {
                    from: r.address.clone(),
                    to: new,
                })
            })
            .collect();
        for rename in renames {
            if state.resource(&rename.to).is_some() {
                outcome.refused.push(format!(
                    "{} was not moved to {}: something is recorded there already (`imm state rm` one of them)",
                    rename.from, rename.to
                ));
                continue;
            }
            rename_record(state, &rename);
            outcome.moved.push(rename);
        }
    }
    outcome
}

/// `imm state mv FROM TO`: like a `moved` block, but an error when there
/// is nothing to move or the new address is taken.
pub fn move_by_hand(state: &mut State, from: &str, to: &str) -> Result<Vec<Moved>, String> {
    let outcome = apply_moves(state, &[(from.to_string(), to.to_string())]);
    if let Some(refused) = outcome.refused.into_iter().next() {
        return Err(refused);
    }
    if outcome.moved.is_empty() {
        return Err(format!("nothing is recorded at {from}"));
    }
    Ok(outcome.moved)
}

/// Whether `outer` names `address` itself, the resource it is an instance
/// of (`a.b` covers `a.b[0]`) or a module it is inside (`module.m` covers
/// `module.m.a.b`): how `--target`, `--replace` and moves read addresses.
pub fn covers(outer: &str, address: &str) -> bool {
    address
        .strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('[') || rest.starts_with('.'))
}

/// The address `address` has after moving `from` to `to`, if it moves.
fn new_address(address: &str, from: &str, to: &str) -> Option<String> {
    if address == from {
        return Some(to.to_string());
    }
    let rest = address.strip_prefix(from)?;
    // `a.b` covers its instances `a.b[…]` (unless `to` names one
    // instance); `module.m` covers what is inside it `module.m.…`.
    let covers = (rest.starts_with('[') && !to.ends_with(']')) || rest.starts_with('.');
    covers.then(|| format!("{to}{rest}"))
}

fn rename_record(state: &mut State, moved: &Moved) {
    for record in &mut state.resources {
        if record.address == moved.from {
            record.address = moved.to.clone();
        }
        for dependency in &mut record.dependencies {
            if *dependency == moved.from {
                *dependency = moved.to.clone();
            }
        }
    }
    for entry in &mut state.artifacts {
        if entry.address == moved.from {
            entry.address = moved.to.clone();
        }
    }
    state.reindex();
}

#[cfg(test)]
mod tests {
    use super::new_address;

    #[test]
    fn a_move_covers_instances_and_module_contents() {
        assert_eq!(new_address("a.b", "a.b", "a.c").as_deref(), Some("a.c"));
        assert_eq!(
            new_address("a.b[0]", "a.b", "a.c").as_deref(),
            Some("a.c[0]")
        );
        assert_eq!(
            new_address("a.b", "a.b", "a.b[0]").as_deref(),
            Some("a.b[0]")
        );
        assert_eq!(new_address("a.b[1]", "a.b", "a.b[0]"), None);
        assert_eq!(new_address("a.bc", "a.b", "a.c"), None);
        assert_eq!(
            new_address("module.m.a.b[\"k\"]", "module.m", "module.n").as_deref(),
            Some("module.n.a.b[\"k\"]")
        );
        assert_eq!(
            new_address("a.b", "a.b", "module.m.a.b").as_deref(),
            Some("module.m.a.b")
        );
    }
}
