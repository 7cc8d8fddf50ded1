//! The safety floor: the limits that hold every revocation of a run back when the
//! plan looks like a wrong roster (every admin who is not an engineer would go) or is
//! larger than the hub allows (`max_revocations`, `max_revocation_share`), and
//! `--allow-revocations`, which lets exactly a reviewed plan through.

use std::fmt;

use crate::roster::{HubRules, Share};

/// The safety floor's limit that held a run's revocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The run would revoke every current admin who is not an engineer (nor the
    /// token's own identity): the signature of a wrong roster (the wrong hub, or the
    /// wrong kind of ids), whatever the counts.
    EveryAdmin { admins: usize },
    /// More revocations than `max_revocations`.
    MaxRevocations(u32),
    /// More than `max_revocation_share` of the hub's current admins, and more than one.
    MaxRevocationShare { share: Share, admins: usize },
    /// More revocations than `--allow-revocations` let through.
    Allowed(u32),
}

impl Limit {
    /// The limit's name, as the roster or the command line spells it (JSON `limit`).
    pub fn name(self) -> &'static str {
        match self {
            Limit::EveryAdmin { .. } => "every_admin",
            Limit::MaxRevocations(_) => "max_revocations",
            Limit::MaxRevocationShare { .. } => "max_revocation_share",
            Limit::Allowed(_) => "allow_revocations",
        }
    }

    /// The most revocations the limit lets through.
    pub fn allowed(self) -> usize {
        match self {
            // Every one but the last.
            Limit::EveryAdmin { admins } => admins.saturating_sub(1),
            Limit::MaxRevocations(n) | Limit::Allowed(n) => n as usize,
            Limit::MaxRevocationShare { share, admins } => share.of(admins).max(1),
        }
    }
}

/// Revocations held back because a limit of the safety floor held: none is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Brake {
    pub revocations: usize,
    pub limit: Limit,
}

impl Brake {
    /// How many revocations more than the limit allows.
    pub fn excess(&self) -> usize {
        self.revocations.saturating_sub(self.limit.allowed())
    }
}

impl fmt::Display for Brake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.revocations;
        let s = if n == 1 { "" } else { "s" };
        match self.limit {
            Limit::EveryAdmin { admins } => write!(
                f,
                "{n} revocation{s} would leave the hub without any of its {admins} admin{} who are not engineers (the signature of a wrong roster: the wrong hub, or the wrong kind of ids)",
                if admins == 1 { "" } else { "s" }
            ),
            Limit::MaxRevocations(m) => write!(
                f,
                "{n} revocation{s} exceed max_revocations {m} by {}",
                self.excess()
            ),
            Limit::MaxRevocationShare { share, admins } => write!(
                f,
                "{n} revocation{s} exceed max_revocation_share {share} of the hub's {admins} admins (at most {}) by {}",
                self.limit.allowed(),
                self.excess()
            ),
            Limit::Allowed(m) => write!(
                f,
                "{n} revocation{s} exceed --allow-revocations {m} by {} (the plan changed since it was reviewed)",
                self.excess()
            ),
        }
    }
}

/// The safety floor: the limit that holds `revocations` on a hub with `admins`
/// admins, `others` of them neither engineers nor the token's identity, if one does.
///
/// `--allow-revocations N` replaces every other limit: an operator has reviewed a plan
/// with N revocations. Otherwise, in order: revoking every admin who is not an
/// engineer (whatever the counts), `max_revocations`, then `max_revocation_share`
/// (which never holds a single revocation: one stray admin is always revocable).
pub fn floor(rules: &HubRules, revocations: usize, admins: usize, others: usize) -> Option<Brake> {
    let held = |limit| Some(Brake { revocations, limit });
    if revocations == 0 {
        return None;
    }
    if let Some(n) = rules.allow_revocations {
        return if revocations > n as usize {
            held(Limit::Allowed(n))
        } else {
            None
        };
    }
    if revocations >= others {
        held(Limit::EveryAdmin { admins: others })
    } else if revocations > rules.max_revocations as usize {
        held(Limit::MaxRevocations(rules.max_revocations))
    } else if revocations > 1 && rules.max_revocation_share.exceeded_by(revocations, admins) {
        held(Limit::MaxRevocationShare {
            share: rules.max_revocation_share,
            admins,
        })
    } else {
        None
    }
}
