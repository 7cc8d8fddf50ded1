//! Apply exactly what was reviewed: a plan saved by `--dry-run --plan-out FILE` and
//! applied by `--once --plan FILE`.
//!
//! The saved plan holds, per hub, the changes the dry run planned and a digest of the
//! admins it observed. Applying it reconciles each hub through a guarded [`PlanView`]
//! (reader and writer): the read fails with "the hub changed since the plan; plan
//! again" when the hub's admins no longer match the digest (so nothing is changed on
//! that hub), and the writer refuses any change that is not in the saved plan, so a run never
//! does more than the plan, even when the roster changed in between; the fresh plan's
//! policy and brake still apply, so it may do less.
//!
//! The digest is 64-bit FNV-1a over the sorted normal-form names of the admins, one
//! per line: a check that the hub did not change, stable across builds, not a
//! security measure (whoever can write the plan file can write any digest; keep the
//! plan where the approval keeps it, as a workflow artifact).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::hub::info::AuthenticatorInfo;
use crate::hub::{Created, HubError, HubRead, HubWrite, Keep};
use crate::name::{HubName, UserName};
use crate::outcome::ErrorKind;
use crate::plan::Action;
use crate::reconcile::{OneShot, blank_report, each_hub, reconcile_today};
use crate::report::{HubReport, Mode, RunReport};
use crate::roster::{HubSpec, Roster};
use crate::snapshot::{HubSnapshot, TokenOwner};

/// The message of a hub whose admins changed since the plan.
pub(crate) const CHANGED: &str = "the hub changed since the plan; plan again";

/// The only format version written and read.
const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SavedPlanError {
    #[error("{}: cannot read the plan: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot write the plan: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a plan written by --plan-out: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: plan version {version} is not supported (this release reads {VERSION})", path.display())]
    Version { path: PathBuf, version: u32 },
}

/// One planned change: make `user` admin (`admin: true`, a create or a grant: the
/// hub may have gained the user, not as admin, since the plan) or revoke it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct PlannedChange {
    /// Normal form.
    pub user: String,
    pub admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HubPlan {
    pub name: String,
    /// [`digest`] of the admins the dry run observed.
    pub admins_digest: String,
    /// How many admins it observed.
    pub admins: usize,
    pub changes: Vec<PlannedChange>,
}

/// A plan as written by `--plan-out`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SavedPlan {
    pub version: u32,
    pub hubs: Vec<HubPlan>,
}

impl SavedPlan {
    pub(crate) fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
        let text = std::fs::read(path).map_err(|source| SavedPlanError::Read {
            path: path.to_owned(),
            source,
        })?;
        let plan: SavedPlan =
            serde_json::from_slice(&text).map_err(|source| SavedPlanError::Parse {
                path: path.to_owned(),
                source,
            })?;
        if plan.version != VERSION {
            return Err(SavedPlanError::Version {
                path: path.to_owned(),
                version: plan.version,
            });
        }
        Ok(plan)
    }

    pub(crate) fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        std::fs::write(path, text).map_err(|source| SavedPlanError::Write {
            path: path.to_owned(),
            source,
        })
    }

    pub(crate) fn hub(&self, name: &HubName) -> Option<&HubPlan> {
        self.hubs.iter().find(|h| name.is(&h.name))
    }

    /// The plan of a dry run: each hub that was read, with its changes and the digest
    /// of the admins its reader (a recording [`PlanView`]) saw. A hub that could not be read is
    /// left out (applying the plan then fails on it).
    pub(crate) fn from_run(report: &RunReport, observed: &[Option<Vec<UserName>>]) -> SavedPlan {
        let hubs = report
            .hubs
            .iter()
            .zip(observed)
            .filter_map(|(hub, admins)| Some(hub_plan(hub, admins.as_ref()?)))
            .collect();
        SavedPlan {
            version: VERSION,
            hubs,
        }
    }
}

fn hub_plan(hub: &HubReport, admins: &[UserName]) -> HubPlan {
    let mut changes: Vec<PlannedChange> = hub
        .changes
        .iter()
        .map(|c| PlannedChange {
            user: UserName::new(&c.user).as_str().to_string(),
            admin: c.action != Action::Revoke,
        })
        .collect();
    changes.sort();
    HubPlan {
        name: hub.name.as_str().to_string(),
        admins_digest: digest(admins),
        admins: admins.len(),
        changes,
    }
}

/// `fnv1a64:` and the hex of 64-bit FNV-1a over the names, sorted, one per line.
pub(crate) fn digest(admins: &[UserName]) -> String {
    let sorted: BTreeSet<&str> = admins.iter().map(UserName::as_str).collect();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for name in sorted {
        for byte in name.bytes().chain([b'\n']) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("fnv1a64:{hash:016x}")
}

/// A hub seen through the saved plan. Recording (`--plan-out`), it keeps the admins of
/// the snapshot it read. Guarded (`--plan`), its snapshot fails unless its admins match
/// the plan's digest, and its writer makes only changes the plan holds.
#[derive(Debug)]
pub(crate) struct PlanView<'a, C> {
    inner: &'a C,
    watch: Watch<'a>,
}

#[derive(Debug)]
enum Watch<'a> {
    Record(Mutex<Option<Vec<UserName>>>),
    Guard(&'a HubPlan),
}

impl<'a, C> PlanView<'a, C> {
    pub(crate) fn recording(inner: &'a C) -> Self {
        PlanView {
            inner,
            watch: Watch::Record(Mutex::new(None)),
        }
    }

    pub(crate) fn guarded(inner: &'a C, plan: &'a HubPlan) -> Self {
        PlanView {
            inner,
            watch: Watch::Guard(plan),
        }
    }

    /// Recording: the admins of the last snapshot read, if one was.
    pub(crate) fn admins(&self) -> Option<Vec<UserName>> {
        match &self.watch {
            Watch::Record(slot) => slot.lock().map(|a| a.clone()).unwrap_or(None),
            Watch::Guard(_) => None,
        }
    }

    fn allow(&self, name: &str, makes_admin: bool) -> Result<(), HubError> {
        let Watch::Guard(plan) = self.watch else {
            return Ok(());
        };
        let user = UserName::new(name);
        if plan
            .changes
            .iter()
            .any(|c| UserName::new(&c.user) == user && c.admin == makes_admin)
        {
            Ok(())
        } else {
            Err(HubError::PlanChanged(
                "not in the saved plan, so not made (the roster changed since the plan?); plan again to include it".to_string(),
            ))
        }
    }
}

impl<C: HubRead> HubRead for PlanView<'_, C> {
    async fn version(&self) -> Result<String, HubError> {
        self.inner.version().await
    }

    async fn token_owner(&self) -> Result<TokenOwner, HubError> {
        self.inner.token_owner().await
    }

    async fn snapshot(&self, keep: &Keep<'_>) -> Result<HubSnapshot, HubError> {
        let snapshot = self.inner.snapshot(keep).await?;
        match &self.watch {
            Watch::Record(slot) => {
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(snapshot.admin_names());
                }
            }
            Watch::Guard(plan) => {
                if digest(&snapshot.admin_names()) != plan.admins_digest {
                    return Err(HubError::PlanChanged(CHANGED.to_string()));
                }
            }
        }
        Ok(snapshot)
    }

    async fn authenticator(&self) -> Option<AuthenticatorInfo> {
        self.inner.authenticator().await
    }

    fn requests_sent(&self) -> u64 {
        self.inner.requests_sent()
    }
}

impl<C: HubWrite> HubWrite for PlanView<'_, C> {
    async fn create_admin(&self, name: &str) -> Result<Created, HubError> {
        self.allow(name, true)?;
        self.inner.create_admin(name).await
    }

    async fn set_admin(&self, name: &str, admin: bool) -> Result<(), HubError> {
        self.allow(name, admin)?;
        self.inner.set_admin(name, admin).await
    }

    /// Part of a planned revocation.
    async fn remove_from_group(&self, group: &str, name: &str) -> Result<(), HubError> {
        self.allow(name, false)?;
        self.inner.remove_from_group(group, name).await
    }
}

/// `--dry-run --plan-out`: [`crate::reconcile::run_all`] as a dry run, and the plan
/// of what it saw.
pub(crate) async fn plan_all<C: HubRead>(
    roster: &Roster,
    targets: &[(HubSpec, C)],
    concurrency: usize,
    kept: Option<&crate::plan::provisional::ByHub>,
) -> (RunReport, SavedPlan) {
    let with = OneShot {
        journal: None,
        kept,
    };
    let done = each_hub(targets, concurrency, |spec, client| async move {
        let reader = PlanView::recording(client);
        let report = reconcile_today(roster, spec, &reader, None::<&NoWriter>, with).await;
        (report, reader.admins())
    })
    .await;
    let (hubs, observed): (Vec<HubReport>, Vec<Option<Vec<UserName>>>) = done.into_iter().unzip();
    let report = RunReport {
        mode: Mode::DryRun,
        hubs,
    };
    let plan = SavedPlan::from_run(&report, &observed);
    (report, plan)
}

/// `--once --plan`: each hub reconciled through a guarded [`PlanView`] (`with` the
/// audit trail and the daemon's records); a hub the plan does not hold fails untouched.
pub(crate) async fn apply_all<C: HubRead + HubWrite>(
    roster: &Roster,
    targets: &[(HubSpec, C)],
    plan: &SavedPlan,
    concurrency: usize,
    with: OneShot<'_>,
) -> RunReport {
    let hubs = each_hub(targets, concurrency, |spec, client| async move {
        let Some(hub_plan) = plan.hub(&spec.name) else {
            let mut report = blank_report(spec, roster.desired(spec).len());
            report.fail(
                ErrorKind::PlanChanged,
                "the hub is not in the saved plan (it could not be read then, or was not selected); plan again",
            );
            return report;
        };
        let guarded = PlanView::guarded(client, hub_plan);
        reconcile_today(roster, spec, &guarded, Some(&guarded), with).await
    })
    .await;
    RunReport {
        mode: Mode::Once,
        hubs,
    }
}

/// The writer type of a dry run, which has none.
#[derive(Debug)]
enum NoWriter {}

impl HubWrite for NoWriter {
    async fn create_admin(&self, _: &str) -> Result<Created, HubError> {
        match *self {}
    }

    async fn set_admin(&self, _: &str, _: bool) -> Result<(), HubError> {
        match *self {}
    }

    async fn remove_from_group(&self, _: &str, _: &str) -> Result<(), HubError> {
        match *self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_ignores_order_and_case_and_is_stable() {
        let a = digest(&[UserName::new("Bob"), UserName::new("alice")]);
        let b = digest(&[UserName::new("alice"), UserName::new("bob")]);
        assert_eq!(a, b);
        assert_ne!(a, digest(&[UserName::new("alice")]));
        // Pinned: a plan written by one build must be read by the next.
        assert_eq!(digest(&[]), "fnv1a64:cbf29ce484222325");
        assert_eq!(
            digest(&[UserName::new("a")]),
            format!("fnv1a64:{:016x}", {
                let mut h: u64 = 0xcbf29ce484222325;
                for b in [b'a', b'\n'] {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x100000001b3);
                }
                h
            })
        );
    }
}
