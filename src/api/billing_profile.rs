//! `BillingProfile`: one payer organization, the credentials that reach it and who may invite into it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Default for `spec.invitationsPerDay`: AWS's own floor of invitations per rolling 24 hours.
pub const DEFAULT_INVITATIONS_PER_DAY: u32 = 20;
/// Default for `spec.iamAccess.memberAccessRoleName`: the role AWS creates in accounts it creates.
pub const DEFAULT_MEMBER_ACCESS_ROLE: &str = "OrganizationAccountAccessRole";

/// The payer organization, the credentials that reach it and who may invite into it.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "A payer AWS Organization that AwsAccountInvites may bring accounts into. The profile is Ready only when DescribeOrganization, called with the profile's credentials, reports the management account (and organization ID, when given) written here, so an invitation never goes out from the wrong payer.",
    group = "awsinvite.io",
    version = "v1alpha1",
    kind = "BillingProfile",
    plural = "billingprofiles",
    shortname = "bp",
    status = "BillingProfileStatus",
    printcolumn = r#"{"name":"Management account","type":"string","jsonPath":".spec.managementAccountId"}"#,
    printcolumn = r#"{"name":"Organization","type":"string","jsonPath":".status.organizationId"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Sent 24h","type":"integer","jsonPath":".status.invitationsInLast24h"}"#,
    printcolumn = r#"{"name":"Queued","type":"integer","jsonPath":".status.queuedInvitations"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct BillingProfileSpec {
    /// The 12-digit ID of the organization's management (payer) account, e.g. "111122223333".
    /// The profile is not Ready unless the credentials below belong to this organization.
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{12}$')").message("managementAccountId must be exactly 12 digits, e.g. \"111122223333\""))]
    #[schemars(length(max = 64))]
    pub management_account_id: String,

    /// The organization's ID, e.g. "o-a1b2c3d4e5". When set, the profile is only Ready when
    /// the credentials reach exactly this organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^o-[a-z0-9]{10,32}$')").message("organizationId must look like \"o-\" followed by 10 to 32 lowercase letters or digits, e.g. \"o-a1b2c3d4e5\""))]
    #[schemars(length(max = 64))]
    pub organization_id: Option<String>,

    /// How the operator authenticates to AWS for this profile. By default it uses its own
    /// ambient credentials (IRSA, EKS Pod Identity or the environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<ProfileCredentials>,

    /// Overrides the AWS endpoint for Organizations, STS and IAM, e.g. "http://127.0.0.1:4566"
    /// for the bundled orgs-emulator. Leave unset for real AWS. Used only when the operator's
    /// installer allows overrides (`--allow-endpoint-override`) and the host is on its
    /// `--endpoint-allowlist`; otherwise the profile is Stalled with reason `EndpointNotAllowed`
    /// and no request goes to the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^https?://[^\\\\s]+$')").message("endpointUrl must be an http:// or https:// URL"))]
    #[schemars(length(max = 2048))]
    pub endpoint_url: Option<String>,

    /// The AWS region used to sign requests; Organizations is a global service. Default "us-east-1".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+$')").message("region must be an AWS region name such as \"us-east-1\""))]
    #[schemars(length(max = 32))]
    pub region: Option<String>,

    /// Which namespaces may create AwsAccountInvites that name this profile. With nothing set,
    /// no namespace may: access to a billing profile is granted explicitly.
    #[serde(default)]
    pub allowed_namespaces: AllowedNamespaces,

    /// The most invitations the operator sends for this organization in any rolling 24 hours;
    /// the rest wait in the queue (phase Queued). AWS allows max(20, account quota) a day.
    #[serde(default = "default_invitations_per_day")]
    #[schemars(range(min = 1, max = 1000))]
    pub invitations_per_day: u32,

    /// Each namespace's share of `invitationsPerDay`: the most invitations the invites of one
    /// namespace get sent in any rolling 24 hours (counted from AWS's handshakes to their
    /// accounts), so one tenant cannot starve the others. Unset: no share, only the
    /// profile's budget. The rest wait in the queue (phase Queued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub invitations_per_namespace_per_day: Option<u32>,

    /// Defaults for the IAM access step of invites that use this profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_access: Option<ProfileIamAccess>,

    /// What invites using this profile may put in the tags AWS applies to the joining account
    /// under the payer's name (where ABAC conditions, SCPs and cost allocation read them), and
    /// the tags the operator adds itself. Unset: any tag the invite's admission rules allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_policy: Option<TagPolicy>,
}

/// Tag rules for the invites of one profile (docs/security.md, "Tags and the daily budget").
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TagPolicy {
    /// The tag key prefixes an invite's `spec.tags` may use, e.g. ["team/", "cost-center"]: a key
    /// is allowed when it starts with one of them (case-sensitive, as AWS tag keys are). Unset:
    /// any key; an empty list: no tags of the invite's own. An invite with another key is
    /// Stalled with reason `TagNotAllowed` and nothing is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 128)))]
    pub allowed_key_prefixes: Option<Vec<String>>,

    /// A tag key the operator sets, on every invitation of this profile, to the invite's
    /// namespace, e.g. "awsinvite.io/namespace"; an invite may not set it itself (Stalled,
    /// `TagNotAllowed`). 1 to 128 characters, not starting with "aws:" (AWS tag key rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("size(self) >= 1 && !self.startsWith('aws:')").message("tagPolicy.namespaceTagKey must be 1 to 128 characters and not start with \"aws:\""))]
    #[schemars(length(max = 128))]
    pub namespace_tag_key: Option<String>,
}

fn default_invitations_per_day() -> u32 {
    DEFAULT_INVITATIONS_PER_DAY
}

/// Credentials the operator uses for a profile. No long-lived keys are stored in the profile.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.externalId) || has(self.roleArn)").message("credentials.externalId only makes sense with credentials.roleArn"))]
#[x_kube(validation = Rule::new("!has(self.sessionName) || has(self.roleArn)").message("credentials.sessionName only makes sense with credentials.roleArn"))]
pub struct ProfileCredentials {
    /// An IAM role in the management account that the operator assumes (sts:AssumeRole) before
    /// calling Organizations, e.g. "arn:aws:iam::111122223333:role/aws-invite-operator".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\\\\w+=,.@/-]{1,512}$')").message("roleArn must be an IAM role ARN such as \"arn:aws:iam::111122223333:role/aws-invite-operator\""))]
    #[schemars(length(max = 2048))]
    pub role_arn: Option<String>,

    /// The external ID the role's trust policy requires, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("size(self) >= 2 && size(self) <= 1224").message("externalId must be 2 to 1224 characters"))]
    #[schemars(length(max = 4096))]
    pub external_id: Option<String>,

    /// The session name recorded in CloudTrail for the assumed role. Default "aws-invite-operator".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[\\\\w+=,.@-]{2,64}$')").message("sessionName must be 2 to 64 characters of letters, digits and +=,.@_-"))]
    #[schemars(length(max = 128))]
    pub session_name: Option<String>,

    /// Static keys for clusters without IRSA or Pod Identity: a Secret with the keys
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and optionally `AWS_SESSION_TOKEN`),
    /// in the operator's credentials namespace (its own namespace unless its installer chose
    /// another, as cert-manager does for ClusterIssuers). The keys are never logged nor copied
    /// into status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretReference>,
}

/// A Secret in the operator's credentials namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// Namespace of the Secret: unset, or the operator's credentials namespace (flag
    /// `--credentials-namespace`, by default the operator's own namespace). The operator reads
    /// credentials Secrets from no other namespace; a profile naming another one is Stalled
    /// with reason `CredentialsNamespaceNotAllowed` and nothing is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("must be a namespace name: lowercase letters, digits and '-', starting and ending with a letter or digit"))]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
    /// Name of the Secret.
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')").message("must be a Secret name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"))]
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Which namespaces may use a billing profile.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.from) || self.from != 'Selector' || has(self.selector)").message("allowedNamespaces.selector is required when from is Selector"))]
#[x_kube(validation = Rule::new("!has(self.selector) || (has(self.from) && self.from == 'Selector')").message("allowedNamespaces.selector is only used when from is Selector"))]
pub struct AllowedNamespaces {
    /// `All`: every namespace. `Same`: the namespace whose name equals this profile's name.
    /// `Selector`: namespaces whose labels match `selector`. Namespaces named in `namespaces`
    /// are allowed in every case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NamespacesFrom>,

    /// A label selector over namespaces, used when `from` is `Selector`: `matchLabels` and
    /// `matchExpressions` (operators In, NotIn, Exists, DoesNotExist), validated as Kubernetes
    /// validates any LabelSelector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "namespace_selector_schema")]
    pub selector: Option<LabelSelector>,

    /// Namespaces allowed by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = Rule::new("self.all(n, n.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))").message("allowedNamespaces.namespaces must be namespace names: lowercase letters, digits and '-', starting and ending with a letter or digit"))]
    #[schemars(length(max = 256), inner(length(max = 63)))]
    pub namespaces: Vec<String>,
}

/// A label key: an optional DNS subdomain prefix and "/", then a name of 1 to 63 alphanumerics,
/// '-', '_' and '.', starting and ending alphanumeric (Kubernetes "Labels and Selectors",
/// Syntax and character set). The prefix's length (at most 253) is checked separately.
const LABEL_KEY_PATTERN: &str = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
/// A label value: empty, or 1 to 63 alphanumerics, '-', '_' and '.', starting and ending
/// alphanumeric (same page).
const LABEL_VALUE_PATTERN: &str = "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$";

/// The schema of `allowedNamespaces.selector`: a `metav1.LabelSelector` with the rules the API
/// server applies to every LabelSelector (`ValidateLabelSelector` in apimachinery) written as
/// CEL, so that a broken selector is refused at admission, naming the field, instead of
/// matching nothing at run time. Limits on sizes keep the rules' cost within the API server's
/// budget.
fn namespace_selector_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let key_rule = format!("self.matches('{LABEL_KEY_PATTERN}') && (!self.contains('/') || self.indexOf('/') <= 253)");
    let key_message = "must be a label key: an optional DNS subdomain prefix (at most 253 characters) and '/', then a \
                       name of at most 63 letters, digits, '-', '_' or '.' that starts and ends with a letter or digit";
    let value_message = "must be a label value: empty, or at most 63 letters, digits, '-', '_' or '.' starting and ending with a letter or digit";
    schemars::json_schema!({
        "type": "object",
        "properties": {
            "matchLabels": {
                "description": "Labels a namespace must carry, each key with exactly this value. ANDed with matchExpressions.",
                "type": "object",
                "maxProperties": 64,
                "additionalProperties": { "type": "string", "maxLength": 63 },
                "x-kubernetes-validations": [
                    {
                        "rule": format!("self.all(k, k.matches('{LABEL_KEY_PATTERN}') && (!k.contains('/') || k.indexOf('/') <= 253))"),
                        "message": format!("matchLabels keys {key_message}"),
                    },
                    {
                        "rule": format!("self.all(k, self[k].matches('{LABEL_VALUE_PATTERN}'))"),
                        "message": format!("matchLabels values {value_message}"),
                    },
                ],
            },
            "matchExpressions": {
                "description": "Requirements on a namespace's labels, ANDed.",
                "type": "array",
                "maxItems": 64,
                "items": {
                    "type": "object",
                    "required": ["key", "operator"],
                    "properties": {
                        "key": {
                            "description": "The label key the requirement applies to.",
                            "type": "string",
                            "maxLength": 317,
                            "x-kubernetes-validations": [{ "rule": key_rule, "message": key_message }],
                        },
                        "operator": {
                            "description": "In, NotIn, Exists or DoesNotExist.",
                            "type": "string",
                            "enum": ["In", "NotIn", "Exists", "DoesNotExist"],
                        },
                        "values": {
                            "description": "The values for In and NotIn (at least one); none for Exists and DoesNotExist.",
                            "type": "array",
                            "maxItems": 256,
                            "items": {
                                "type": "string",
                                "maxLength": 63,
                                "x-kubernetes-validations": [{
                                    "rule": format!("self.matches('{LABEL_VALUE_PATTERN}')"),
                                    "message": value_message,
                                }],
                            },
                        },
                    },
                    "x-kubernetes-validations": [
                        {
                            "rule": "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
                            "message": "values must be specified when `operator` is 'In' or 'NotIn'",
                            "fieldPath": ".values",
                            "reason": "FieldValueRequired",
                        },
                        {
                            "rule": "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",
                            "message": "values may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                            "fieldPath": ".values",
                            "reason": "FieldValueForbidden",
                        },
                    ],
                },
            },
        },
    })
}

/// Which namespaces are allowed besides those named in `namespaces`: `All` (every namespace),
/// `Same` (the namespace whose name equals this profile's name) or `Selector` (namespaces whose
/// labels match `selector`). Unset: only the namespaces named in `namespaces`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamespacesFrom {
    /// Every namespace.
    All,
    /// The namespace whose name equals the profile's name.
    Same,
    /// Namespaces matching `allowedNamespaces.selector`.
    Selector,
}

/// Defaults for the IAM access step of invites using this profile.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProfileIamAccess {
    /// How IAM access is verified when an invite does not say: `Automatic` (the operator
    /// checks the role itself) or `Manual` (a person confirms with an annotation). Default Automatic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<IamVerification>,

    /// The role the operator assumes in a new member account to check IAM access, e.g.
    /// "OrganizationAccountAccessRole" (the default) or a read-only role the customer grants the payer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[\\\\w+=,.@-]{1,64}$')").message("memberAccessRoleName must be an IAM role name: 1 to 64 letters, digits and +=,.@_-"))]
    #[schemars(length(min = 1, max = 64))]
    pub member_access_role_name: Option<String>,
}

/// How the IAM access step is verified: `Automatic` (the operator assumes the member access
/// role and checks the role's trust policy) or `Manual` (a person sets the annotation
/// `awsinvite.io/iam-access-confirmed: "true"`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IamVerification {
    /// The operator assumes the member access role and checks the role's trust policy.
    #[default]
    Automatic,
    /// A person sets the annotation `awsinvite.io/iam-access-confirmed: "true"`.
    Manual,
}

/// What the operator observed of a billing profile.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BillingProfileStatus {
    /// `Ready`: the credentials work and reach the organization this profile names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The organization the credentials reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,

    /// The management account's email address, as AWS reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_account_email: Option<String>,

    /// Invitations this organization sent in the last 24 hours (from AWS's handshake list).
    #[serde(default)]
    pub invitations_in_last24h: u32,

    /// Invites waiting for room in the daily budget.
    #[serde(default)]
    pub queued_invitations: u32,

    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
