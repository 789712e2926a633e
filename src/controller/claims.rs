//! Account claims: one (organization, account) pair belongs to one AwsAccountInvite, and one
//! (organization, customer) pair to one BillingTransfer (docs/security.md, "Account claims";
//! issue 12, item 3).
//!
//! Tenants sharing a BillingProfile could otherwise act on each other's accounts: an invite in
//! another namespace naming the same account would adopt the open invitation, cancel it by
//! being deleted, resend it, learn the account's membership and probe roles in it through the
//! payer's member-access role. The first invite to claim the pair owns it; the claim is a
//! `coordination.k8s.io/v1` Lease in the operator's namespace, so it survives a lost status, a
//! restart and a leader change; only the operator (and cluster administrators) read or write
//! there. An invite that does not own the pair stalls with `AccountClaimed` and makes no AWS
//! call about the account; its deletion cancels nothing.
//!
//! The claim is released when its owner is deleted (the finalizer), and taken over when the
//! owner is gone without releasing it (its finalizer removed by force, or the object replaced
//! by a new one of the same name: a new UID is a new claimant).
//!
//! BillingTransfers are claimed the same way, by the customer they name (management account
//! ID, or email address): another namespace's transfer to the same customer would otherwise
//! adopt, withdraw or resend the first one's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{DeleteParams, ListParams, PostParams, Preconditions};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::MANAGER;

/// Label on every claim Lease (with the value `account`), to list them.
pub const CLAIM_LABEL: &str = "awsinvite.io/claim";
/// Annotation of a claim Lease: the UID of the invite that holds it.
pub const CLAIMANT_UID_ANNOTATION: &str = "awsinvite.io/claimant-uid";

/// An invite as a claimant: where it is and which object it is (the UID tells a recreated
/// object of the same name from the one that claimed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Claimant {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Claimant {
    /// The object as a claimant; `None` for an object the API server has not stored yet.
    pub fn of<K: Resource>(object: &K) -> Option<Self> {
        Some(Self {
            namespace: object.namespace()?,
            name: object.name_any(),
            uid: object.uid()?,
        })
    }

    /// The Lease's `spec.holderIdentity`: `<namespace>/<name>`.
    fn holder_identity(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The claimant a claim Lease records, if it is one.
    fn recorded_in(lease: &Lease) -> Option<Self> {
        let holder = lease.spec.as_ref()?.holder_identity.as_deref()?;
        let (namespace, name) = holder.split_once('/')?;
        let uid = lease.annotations().get(CLAIMANT_UID_ANNOTATION)?;
        Some(Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: uid.clone(),
        })
    }
}

/// What to do with a claim, given what its Lease records and what now lives where the
/// recorded holder was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClaimStep {
    /// No claim yet: create it.
    Create,
    /// This invite holds it.
    Owned,
    /// Another invite holds it and still exists: stall.
    Taken,
    /// The recorded holder is gone (or was replaced by a new object of its name): take over.
    TakeOver,
}

/// The claim rule, pure: `recorded` is the Lease's claimant (None: no Lease, or one that
/// records no claimant), `live_uid` the UID of the invite now at the recorded holder's
/// namespace/name (None: no such invite).
pub(super) fn claim_step(recorded: Option<&Claimant>, me: &Claimant, live_uid: Option<&str>) -> ClaimStep {
    match recorded {
        None => ClaimStep::Create,
        Some(holder) if holder.uid == me.uid => ClaimStep::Owned,
        Some(holder) if live_uid == Some(holder.uid.as_str()) => ClaimStep::Taken,
        Some(_) => ClaimStep::TakeOver,
    }
}

/// What is claimed: a pair of an organization and an account or customer, and the Lease that
/// records who owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClaimKey {
    /// The claim Lease's name.
    pub lease: String,
    /// The organization (`o-...`).
    pub organization_id: String,
    /// The account ID, or the customer (account ID or lowercase email).
    pub subject: String,
}

impl ClaimKey {
    /// An invite's claim: `claim-<organization>-<account>` (an organization ID is `o-` and
    /// 10–32 lowercase letters or digits, an account 12 digits: always a valid object name).
    pub fn account(organization_id: &str, account_id: &str) -> Self {
        Self {
            lease: format!("claim-{organization_id}-{account_id}"),
            organization_id: organization_id.to_owned(),
            subject: account_id.to_owned(),
        }
    }

    /// A BillingTransfer's claim on its customer: `claim-transfer-<organization>-<customer>`,
    /// the customer being the management account ID or, for an email address (not a valid
    /// object name), `email-` and the first 16 hex digits of the SHA-256 of its lowercase form.
    pub fn transfer_customer(organization_id: &str, customer: &str) -> Self {
        let customer = customer.to_ascii_lowercase();
        let name_part = if customer.bytes().all(|b| b.is_ascii_digit()) {
            customer.clone()
        } else {
            let digest = Sha256::digest(customer.as_bytes());
            let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("email-{hex}")
        };
        Self {
            lease: format!("claim-transfer-{organization_id}-{name_part}"),
            organization_id: organization_id.to_owned(),
            subject: customer,
        }
    }
}

/// The claims, as Leases in the operator's namespace, plus the pairs this process has seen
/// its invites own (an owner's claim only changes by its own release: no read needed again).
pub(super) struct Claims {
    leases: Api<Lease>,
    client: Client,
    /// Lease name → the UID of the object seen owning it (this process's claims, and every
    /// claim listed by [`Claims::prime`]).
    owned: Mutex<HashMap<String, String>>,
    /// [`Claims::prime`] listed every claim: a Lease missing from `owned` does not exist (this
    /// process, the leader, is the only writer), so a claim may be created without a read.
    primed: AtomicBool,
}

impl Claims {
    pub fn new(client: Client, namespace: &str) -> Self {
        Self {
            leases: Api::namespaced(client.clone(), namespace),
            client,
            owned: Mutex::default(),
            primed: AtomicBool::new(false),
        }
    }

    /// Lists every claim once (at the leader's start), so that claiming costs no read per
    /// object: an object that holds its claim is known, and a claim nobody holds is created
    /// directly. A failed list only costs reads later.
    pub async fn prime(&self) {
        match self.leases.list(&ListParams::default().labels(CLAIM_LABEL)).await {
            Ok(list) => {
                if let Ok(mut owned) = self.owned.lock() {
                    for lease in &list.items {
                        if let Some(holder) = Claimant::recorded_in(lease) {
                            owned.insert(lease.name_any(), holder.uid);
                        }
                    }
                    self.primed.store(true, Ordering::Release);
                }
                tracing::info!(claims = list.items.len(), "account claims listed");
            }
            Err(e) => tracing::warn!(error = %e, "could not list the account claims; each is read when needed"),
        }
    }

    /// Whether no claim Lease `lease` exists, as far as the primed list and this process's own
    /// writes tell (false when unknown).
    fn known_absent(&self, lease: &str) -> bool {
        self.primed.load(Ordering::Acquire) && self.owned.lock().is_ok_and(|owned| !owned.contains_key(lease))
    }

    fn known_owner(&self, lease: &str, uid: &str) -> bool {
        self.owned
            .lock()
            .is_ok_and(|owned| owned.get(lease).is_some_and(|u| u == uid))
    }

    fn remember(&self, lease: &str, uid: Option<&str>) {
        if let Ok(mut owned) = self.owned.lock() {
            match uid {
                Some(uid) => owned.insert(lease.to_owned(), uid.to_owned()),
                None => owned.remove(lease),
            };
        }
    }

    /// Claims `key` for `object`: whether the object owns it now (first claim wins; a
    /// vanished holder's claim is taken over). An object the API server has not stored yet (no
    /// UID) owns nothing.
    pub async fn claim<K>(&self, key: &ClaimKey, object: &K, store: &Store<K>) -> Result<bool, kube::Error>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let Some(me) = Claimant::of(object) else {
            return Ok(false);
        };
        let name = &key.lease;
        if self.known_owner(name, &me.uid) {
            return Ok(true);
        }
        if self.known_absent(name) {
            match self.leases.create(&post_params(), &claim_lease(key, &me, None)).await {
                Ok(_) => {
                    self.remember(name, Some(&me.uid));
                    return Ok(true);
                }
                // It exists after all (e.g. an administrator's): read it below.
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        let current = self.leases.get_opt(name).await?;
        let recorded = current.as_ref().and_then(Claimant::recorded_in);
        let live_uid = match &recorded {
            Some(holder) if holder.uid != me.uid => self.live_uid(holder, store).await?,
            _ => None,
        };
        let step = claim_step(recorded.as_ref(), &me, live_uid.as_deref());
        let owned = match (step, current) {
            (ClaimStep::Owned, _) => true,
            (ClaimStep::Taken, _) => false,
            (ClaimStep::Create | ClaimStep::TakeOver, None) => {
                match self.leases.create(&post_params(), &claim_lease(key, &me, None)).await {
                    Ok(_) => true,
                    // Another object claimed it at the same moment: it was first.
                    Err(kube::Error::Api(e)) if e.code == 409 => false,
                    Err(e) => return Err(e),
                }
            }
            (ClaimStep::Create | ClaimStep::TakeOver, Some(existing)) => {
                // Replace under the read's resourceVersion: of two takers, one wins.
                let lease = claim_lease(key, &me, existing.resource_version());
                match self.leases.replace(name, &post_params(), &lease).await {
                    Ok(_) => {
                        tracing::info!(lease = %name, holder = %me.holder_identity(), "claim taken over");
                        true
                    }
                    Err(kube::Error::Api(e)) if e.code == 409 => false,
                    Err(e) => return Err(e),
                }
            }
        };
        if owned {
            self.remember(name, Some(&me.uid));
        }
        Ok(owned)
    }

    /// Whether `object` may act on `key` as its owner: it holds the claim, or nobody does (an
    /// object from before claims existed).
    pub async fn holds<K: Resource>(&self, key: &ClaimKey, object: &K) -> Result<bool, kube::Error> {
        let Some(me) = Claimant::of(object) else {
            return Ok(false);
        };
        if self.known_owner(&key.lease, &me.uid) {
            return Ok(true);
        }
        let lease = self.leases.get_opt(&key.lease).await?;
        Ok(lease
            .as_ref()
            .and_then(Claimant::recorded_in)
            .is_none_or(|holder| holder.uid == me.uid))
    }

    /// Releases `object`'s claim on `key`, if it holds it: whether it did (then other objects
    /// naming the pair may claim it).
    pub async fn release<K: Resource>(&self, key: &ClaimKey, object: &K) -> Result<bool, kube::Error> {
        let Some(me) = Claimant::of(object) else {
            return Ok(false);
        };
        let name = &key.lease;
        self.remember(name, None);
        let Some(lease) = self.leases.get_opt(name).await? else {
            return Ok(false);
        };
        if Claimant::recorded_in(&lease).is_none_or(|holder| holder.uid != me.uid) {
            return Ok(false);
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: lease.resource_version(),
                uid: lease.uid(),
            }),
            ..DeleteParams::default()
        };
        match self.leases.delete(name, &params).await {
            Ok(_) => Ok(true),
            // Gone already, or changed hands since the read: not ours to delete.
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The UID of the object now at `holder`'s namespace/name: the store's if it shows the
    /// holder, else the API server's (the store may lag behind a new object).
    async fn live_uid<K>(&self, holder: &Claimant, store: &Store<K>) -> Result<Option<String>, kube::Error>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let cached = store
            .get(&ObjectRef::new(&holder.name).within(&holder.namespace))
            .and_then(|o| o.uid());
        if cached.as_deref() == Some(holder.uid.as_str()) {
            return Ok(cached);
        }
        let api: Api<K> = Api::namespaced(self.client.clone(), &holder.namespace);
        Ok(api.get_opt(&holder.name).await?.and_then(|o| o.uid()))
    }
}

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(MANAGER.to_owned()),
        ..PostParams::default()
    }
}

/// The claim Lease recording `me` as the holder of `key`.
fn claim_lease(key: &ClaimKey, me: &Claimant, resource_version: Option<String>) -> Lease {
    let labels = BTreeMap::from([
        ("app.kubernetes.io/managed-by".to_owned(), MANAGER.to_owned()),
        (CLAIM_LABEL.to_owned(), "account".to_owned()),
    ]);
    let annotations = BTreeMap::from([
        (CLAIMANT_UID_ANNOTATION.to_owned(), me.uid.clone()),
        ("awsinvite.io/organization-id".to_owned(), key.organization_id.clone()),
        ("awsinvite.io/subject".to_owned(), key.subject.clone()),
    ]);
    Lease {
        metadata: ObjectMeta {
            name: Some(key.lease.clone()),
            labels: Some(labels),
            annotations: Some(annotations),
            resource_version,
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(me.holder_identity()),
            acquire_time: Some(MicroTime(jiff::Timestamp::now())),
            ..LeaseSpec::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimant(namespace: &str, name: &str, uid: &str) -> Claimant {
        Claimant {
            namespace: namespace.into(),
            name: name.into(),
            uid: uid.into(),
        }
    }

    #[test]
    fn the_first_claim_owns_the_pair() {
        let a = claimant("team-a", "acme", "uid-a");
        let b = claimant("team-b", "acme", "uid-b");
        let a_recreated = claimant("team-a", "acme", "uid-a2");
        // (recorded holder, me, UID now at the holder's name, step)
        let table = [
            (None, &a, None, ClaimStep::Create),
            (Some(&a), &a, Some("uid-a"), ClaimStep::Owned),
            // The holder's own claim needs no look-up of itself.
            (Some(&a), &a, None, ClaimStep::Owned),
            (Some(&a), &b, Some("uid-a"), ClaimStep::Taken),
            // The holder was deleted without releasing (finalizer removed by force).
            (Some(&a), &b, None, ClaimStep::TakeOver),
            // The holder's name now belongs to a new object: the old claimant is gone.
            (Some(&a), &b, Some("uid-a2"), ClaimStep::TakeOver),
            (Some(&a), &a_recreated, Some("uid-a2"), ClaimStep::TakeOver),
        ];
        for (recorded, me, live, want) in table {
            assert_eq!(claim_step(recorded, me, live), want, "{recorded:?} {me:?} {live:?}");
        }
    }

    #[test]
    fn a_transfer_claims_its_customer_by_account_or_by_email_whatever_its_case() {
        let by_id = ClaimKey::transfer_customer("o-exampleorg1", "444455556666");
        assert_eq!(by_id.lease, "claim-transfer-o-exampleorg1-444455556666");
        let by_email = ClaimKey::transfer_customer("o-exampleorg1", "Billing+Acme@Example.com");
        // Email addresses are compared case-insensitively (docs/billing-transfer.md), and are
        // no object names: a digest names the Lease.
        assert_eq!(
            by_email,
            ClaimKey::transfer_customer("o-exampleorg1", "billing+acme@example.com")
        );
        assert!(by_email.lease.starts_with("claim-transfer-o-exampleorg1-email-"));
        assert_eq!(by_email.lease.len(), "claim-transfer-o-exampleorg1-email-".len() + 16);
        assert!(
            by_email
                .lease
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
        assert_ne!(
            by_email,
            ClaimKey::transfer_customer("o-exampleorg1", "other@example.com")
        );
    }

    #[test]
    fn a_lease_records_its_claimant() {
        let me = claimant("team-a", "acme", "uid-a");
        let key = ClaimKey::account("o-exampleorg1", "222222222222");
        assert_eq!(key.lease, "claim-o-exampleorg1-222222222222");
        let lease = claim_lease(&key, &me, None);
        assert_eq!(Claimant::recorded_in(&lease), Some(me));
        // A Lease without the annotation (e.g. someone else's) records no claimant.
        let mut foreign = lease;
        foreign.metadata.annotations = None;
        assert_eq!(Claimant::recorded_in(&foreign), None);
    }
}
