// The fresh-start scenario of orgs-emulator, driven by the AWS SDK for Go v2: the same steps
// and expectations as emulator/tests/fresh_start.rs (Rust SDK) and the AWS CLI test in
// emulator/tests/aws_cli.rs. `cargo test -p orgs-emulator --test go_sdk` starts an emulator
// without a seed on 127.0.0.1 and runs this with ORGS_EMULATOR_URL set.
//
// Expected values come from AWS's Organizations model (botocore
// botocore/data/organizations/2016-11-28/service-2.json, the same model the SDKs are generated
// from) and its API reference (https://docs.aws.amazon.com/organizations/latest/APIReference/).
// Every modeled Organizations error is HTTP 400 (the model gives no httpError code, so
// awsJson1_1's client-error default applies).
package gosdk

import (
	"context"
	"errors"
	"os"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/smithy-go"
)

const (
	mgmt     = "111111111111"
	joiner   = "222222222222" // invited by ID, accepts
	decliner = "333333333333" // invited by the email of an unseeded account, declines
	canceled = "444444444444" // invited by ID, the invitation is canceled
	// An account the seed does not list has the email account-<id>@example.com (emulator README).
	declinerEmail = "account-333333333333@example.com"
)

// client acts as the account whose ID is the access key (emulator README, "Who is calling").
func client(t *testing.T, account string) *organizations.Client {
	url := os.Getenv("ORGS_EMULATOR_URL")
	if url == "" {
		t.Fatal("ORGS_EMULATOR_URL is not set: run this through `cargo test -p orgs-emulator --test go_sdk`")
	}
	return organizations.New(organizations.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(account, "secret", ""),
		Retryer:      aws.NopRetryer{},
	})
}

// expectError checks the error's code, HTTP status and (for exceptions with one) reason.
func expectError(t *testing.T, step string, err error, code string, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: expected %s, got success", step, code)
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != code {
		t.Fatalf("%s: expected %s, got %v", step, code, err)
	}
	var resp *awshttp.ResponseError
	if !errors.As(err, &resp) || resp.HTTPStatusCode() != 400 {
		t.Fatalf("%s: expected HTTP 400, got %v", step, err)
	}
	got := ""
	var invalid *types.InvalidInputException
	if errors.As(err, &invalid) {
		got = string(invalid.Reason)
	}
	if got != reason {
		t.Fatalf("%s: expected reason %q, got %q (%v)", step, reason, got, err)
	}
}

// ok(call())(t, step) is call's result, or fails the test with call's error.
func ok[T any](v T, err error) func(t *testing.T, step string) T {
	return func(t *testing.T, step string) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return v
	}
}

func invite(ctx context.Context, c *organizations.Client, ty types.HandshakePartyType, id string, tags ...types.Tag) (*organizations.InviteAccountToOrganizationOutput, error) {
	return c.InviteAccountToOrganization(ctx, &organizations.InviteAccountToOrganizationInput{
		Target: &types.HandshakeParty{Type: ty, Id: aws.String(id)},
		Notes:  aws.String("welcome"),
		Tags:   tags,
	})
}

func TestFreshStartScenario(t *testing.T) {
	ctx := context.Background()
	m := client(t, mgmt)

	// A fresh emulator: the caller is in no organization.
	_, err := m.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	expectError(t, "describe before create", err, "AWSOrganizationsNotInUseException", "")

	// CreateOrganization: the caller becomes the management account (API reference,
	// CreateOrganization); Organization.Id matches the model's ^o-[a-z0-9]{10,32}$.
	org := ok(m.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: types.OrganizationFeatureSetAll}))(t, "create").Organization
	if aws.ToString(org.MasterAccountId) != mgmt || org.FeatureSet != types.OrganizationFeatureSetAll ||
		!regexp.MustCompile(`^o-[a-z0-9]{10,32}$`).MatchString(aws.ToString(org.Id)) {
		t.Fatalf("create: unexpected organization %+v", org)
	}
	_, err = m.CreateOrganization(ctx, &organizations.CreateOrganizationInput{})
	expectError(t, "create twice", err, "AlreadyInOrganizationException", "")

	// Invitations by ID and by email.
	tag := types.Tag{Key: aws.String("team"), Value: aws.String("billing")}
	hJoin := ok(invite(ctx, m, types.HandshakePartyTypeAccount, joiner, tag))(t, "invite by ID").Handshake
	if hJoin.State != types.HandshakeStateOpen || hJoin.Action != types.ActionTypeInviteAccountToOrganization {
		t.Fatalf("invite: unexpected handshake %+v", hJoin)
	}
	hDecline := ok(invite(ctx, m, types.HandshakePartyTypeEmail, declinerEmail))(t, "invite by email").Handshake
	// The same account by ID while its email invitation is open: DuplicateHandshakeException
	// ("the invited account might already have a pending invitation from this organization").
	_, err = invite(ctx, m, types.HandshakePartyTypeAccount, decliner)
	expectError(t, "duplicate by ID", err, "DuplicateHandshakeException", "")
	hCancel := ok(invite(ctx, m, types.HandshakePartyTypeAccount, canceled))(t, "invite third").Handshake
	// Tag keys starting with aws: are reserved (InvalidInputException INVALID_SYSTEM_TAGS_PARAMETER).
	_, err = invite(ctx, m, types.HandshakePartyTypeAccount, "555555555555", types.Tag{Key: aws.String("aws:x"), Value: aws.String("y")})
	expectError(t, "system tag", err, "InvalidInputException", "INVALID_SYSTEM_TAGS_PARAMETER")

	// Listing with pages (MaxResults 1-20 in the model) and filters.
	var ids []string
	pages := organizations.NewListHandshakesForOrganizationPaginator(m, &organizations.ListHandshakesForOrganizationInput{MaxResults: aws.Int32(2)})
	n := 0
	for pages.HasMorePages() {
		page := ok(pages.NextPage(ctx))(t, "list page")
		n++
		for _, h := range page.Handshakes {
			ids = append(ids, aws.ToString(h.Id))
		}
	}
	want := []string{aws.ToString(hJoin.Id), aws.ToString(hDecline.Id), aws.ToString(hCancel.Id)}
	if n != 2 || len(ids) != 3 || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
		t.Fatalf("list pages: %d pages, %v, want 2 pages of %v", n, ids, want)
	}
	invites := ok(m.ListHandshakesForOrganization(ctx, &organizations.ListHandshakesForOrganizationInput{
		Filter: &types.HandshakeFilter{ActionType: types.ActionTypeInviteAccountToOrganization},
	}))(t, "filter INVITE")
	if len(invites.Handshakes) != 3 {
		t.Fatalf("filter INVITE: %d handshakes", len(invites.Handshakes))
	}
	// ParentHandshakeId has the model's HandshakeId pattern ^h-[0-9a-z]{8,32}$.
	_, err = m.ListHandshakesForOrganization(ctx, &organizations.ListHandshakesForOrganizationInput{
		Filter: &types.HandshakeFilter{ParentHandshakeId: aws.String("h-XXXX")},
	})
	expectError(t, "parent filter pattern", err, "InvalidInputException", "INVALID_PATTERN")
	// HandshakeId is at most 34 characters: the length is checked before the pattern.
	_, err = m.DescribeHandshake(ctx, &organizations.DescribeHandshakeInput{HandshakeId: aws.String("h-" + "a123456789012345678901234567890123")})
	expectError(t, "handshake ID too long", err, "InvalidInputException", "MAX_LENGTH_EXCEEDED")

	// Describe, then the invitee accepts: it becomes a member with the invitation's tags.
	d := ok(m.DescribeHandshake(ctx, &organizations.DescribeHandshakeInput{HandshakeId: hJoin.Id}))(t, "describe").Handshake
	if aws.ToString(d.Id) != aws.ToString(hJoin.Id) || d.State != types.HandshakeStateOpen {
		t.Fatalf("describe: %+v", d)
	}
	j := client(t, joiner)
	acc := ok(j.AcceptHandshake(ctx, &organizations.AcceptHandshakeInput{HandshakeId: hJoin.Id}))(t, "accept").Handshake
	if acc.State != types.HandshakeStateAccepted {
		t.Fatalf("accept: %+v", acc)
	}
	a := ok(m.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(joiner)}))(t, "describe account").Account
	if a.JoinedMethod != types.AccountJoinedMethodInvited {
		t.Fatalf("describe account: %+v", a)
	}
	tags := ok(m.ListTagsForResource(ctx, &organizations.ListTagsForResourceInput{ResourceId: aws.String(joiner)}))(t, "list tags").Tags
	if len(tags) != 1 || aws.ToString(tags[0].Key) != "team" || aws.ToString(tags[0].Value) != "billing" {
		t.Fatalf("list tags: %+v", tags)
	}
	// The member can't see the other invitations.
	_, err = j.AcceptHandshake(ctx, &organizations.AcceptHandshakeInput{HandshakeId: hDecline.Id})
	expectError(t, "accept someone else's", err, "HandshakeNotFoundException", "")
	_, err = j.ListAccounts(ctx, &organizations.ListAccountsInput{})
	expectError(t, "member lists accounts", err, "AccessDeniedException", "")

	// The email invitee sees its invitation and declines.
	dc := client(t, decliner)
	mine := ok(dc.ListHandshakesForAccount(ctx, &organizations.ListHandshakesForAccountInput{}))(t, "list for account").Handshakes
	if len(mine) != 1 || aws.ToString(mine[0].Id) != aws.ToString(hDecline.Id) {
		t.Fatalf("list for account: %+v", mine)
	}
	dec := ok(dc.DeclineHandshake(ctx, &organizations.DeclineHandshakeInput{HandshakeId: hDecline.Id}))(t, "decline").Handshake
	if dec.State != types.HandshakeStateDeclined {
		t.Fatalf("decline: %+v", dec)
	}

	// The sender cancels the third; canceling again is HandshakeAlreadyInStateException.
	cn := ok(m.CancelHandshake(ctx, &organizations.CancelHandshakeInput{HandshakeId: hCancel.Id}))(t, "cancel").Handshake
	if cn.State != types.HandshakeStateCanceled {
		t.Fatalf("cancel: %+v", cn)
	}
	_, err = m.CancelHandshake(ctx, &organizations.CancelHandshakeInput{HandshakeId: hCancel.Id})
	expectError(t, "cancel twice", err, "HandshakeAlreadyInStateException", "")

	// DeleteOrganization only without members (OrganizationNotEmptyException).
	_, err = m.DeleteOrganization(ctx, &organizations.DeleteOrganizationInput{})
	expectError(t, "delete with a member", err, "OrganizationNotEmptyException", "")
	ok(m.RemoveAccountFromOrganization(ctx, &organizations.RemoveAccountFromOrganizationInput{AccountId: aws.String(joiner)}))(t, "remove")
	ok(m.DeleteOrganization(ctx, &organizations.DeleteOrganizationInput{}))(t, "delete")
	_, err = m.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	expectError(t, "describe after delete", err, "AWSOrganizationsNotInUseException", "")
}
