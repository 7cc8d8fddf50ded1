//! The words for how a run of a hub turned out, shared by the report, the JSON, the
//! metrics, the alerts and the audit trail: why it failed ([`ErrorKind`]) and why a
//! change was left undone ([`Skipped`]).

use crate::word::words;

words! {
    /// Why a run of a hub ended in an error. Its word is the JSON `error_kind` and the
    /// `kind` label of `jupyterhub_admin_sync_errors_total`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ErrorKind {
        /// The hub could not be reached, or the connection failed.
        Transport => "transport",
        /// A request timed out.
        Timeout => "timeout",
        /// The hub answered with an error status.
        Status => "status",
        /// The answer is not what JupyterHub sends.
        Decode => "decode",
        /// The answer was larger than allowed.
        TooLarge => "too_large",
        /// The hub redirected (never followed: the token would go with it).
        Redirect => "redirect",
        /// The user listing did not add up.
        Incomplete => "incomplete",
        /// The hub is older than JupyterHub 2.0.
        TooOld => "too_old",
        /// The hub's client could not be set up.
        Setup => "setup",
        /// The token's owner is not an admin, so it cannot change admin flags.
        NotAdmin => "not_admin",
        /// The revocation brake held.
        Brake => "brake",
        /// Some changes failed.
        Apply => "apply",
        /// `--plan`: the hub's admins are not what they were when the plan was made, or
        /// the hub is not in the plan. (A change that is not in the plan fails as that
        /// change's error, and the hub's kind is `apply`.)
        PlanChanged => "plan_changed",
        /// `--audit-log`: a line could not be written (a full disk, the file's
        /// directory gone) or another writer holds the file; no change is made
        /// without its line ([`crate::audit`]).
        Audit => "audit",
    }
}

words! {
    /// Why a planned change was not made this run. Serialised as the sentence people
    /// read (`"skipped": "policy grant does not revoke"`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Skipped {
        /// `--dry-run`: nothing is changed.
        DryRun => "dry run",
        /// Policy `report` changes nothing.
        PolicyReport => "policy report changes nothing",
        /// Policy `grant` does not revoke.
        PolicyGrant => "policy grant does not revoke",
        /// The revocation brake held every revocation this run.
        Brake => "held by the brake",
        /// Something else keeps undoing this change (hub config, authenticator): the
        /// daemon leaves the user alone until the roster changes for them or SIGHUP.
        Contested => "contested: something else keeps undoing it",
        /// The daemon was stopping.
        ShuttingDown => "shutting down",
        /// An earlier change found the hub unreachable; the rest wait for the next run.
        HubStoppedAnswering => "not tried: the hub stopped answering",
        /// The user is admin through a role held directly, which comes from the hub's
        /// config: no API takes it away.
        RoleInConfig => "the role comes from the hub's config: remove the user from it in load_roles",
        /// The hub's authenticator manages groups (`manage_groups`), so the groups API
        /// refuses to change them.
        GroupsManaged => "the authenticator manages groups: remove the user from the group in the identity provider",
        /// The change is new since the last run and the hub's log does not show yet who
        /// made what it would undo: looked up again next run before anything is done.
        AwaitingLog => "new since the last run: looked up in the hub's log again next run",
        /// The hub keeps admins made in it for a while (`ui_grants`), and this one-shot
        /// run has not the daemon's records of them (`--state-dir`): the daemon decides.
        MaybeProvisional => "may be provisional: the daemon decides (its records are in --state-dir)",
        /// An earlier change's audit line could not be written; no change is made
        /// without one, so the rest wait for the next run.
        NotRecorded => "not tried: the audit log cannot be written",
    }
}
