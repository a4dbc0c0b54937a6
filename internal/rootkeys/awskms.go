package rootkeys

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// AWSKMSAlg is the JWE "alg" of what an AWS KMS root wraps: the content key
// is the CiphertextBlob of a KMS Encrypt call (symmetric key,
// SYMMETRIC_DEFAULT), with the JWE's binding as its encryption context
// {"pgsecrets_bind": binding}. No registered JWE algorithm is that, so the
// name is pgsecrets' own; only KMS Decrypt, by whoever IAM lets call it,
// opens such a JWE.
const AWSKMSAlg = "pgsecrets-aws-kms"

// AWSKMSTimeout bounds each call to AWS KMS, retries included, unless the
// entry's "timeout" says otherwise: past it a root key that cannot be
// reached fails instead of hanging the process.
const AWSKMSTimeout = 10 * time.Second

// The bounds of an entry's "timeout": below a tenth of a second a healthy
// KMS across a region would fail; above five minutes a process would seem
// to hang.
const (
	minAWSKMSTimeout = 100 * time.Millisecond
	maxAWSKMSTimeout = 5 * time.Minute
)

// awsKMSMaxAttempts is how many times one call is tried: throttling and
// transient network errors are retried with jittered backoff, within
// AWSKMSTimeout.
const awsKMSMaxAttempts = 5

// encryptionContextKey names the binding in a KMS encryption context;
// CloudTrail shows it beside every call, so an audit of KMS use sees which
// project key a process opened.
const encryptionContextKey = "pgsecrets_bind"

func init() { kinds["aws_kms"] = openAWSKMS }

// awsKMSConfig is the member "aws_kms" of a root keys entry.
type awsKMSConfig struct {
	// KeyID is a key id, key ARN, alias name (alias/x) or alias ARN.
	KeyID string `json:"key_id"`
	// Region, when empty, comes from the key's ARN, else from the AWS
	// default chain (AWS_REGION, the shared config's profile).
	Region string `json:"region"`
	// Endpoint replaces the regional endpoint: a VPC endpoint, a
	// KMS-compatible service, a test server.
	Endpoint string `json:"endpoint"`
	// Timeout bounds each call, retries included (a Go duration, "3s");
	// default AWSKMSTimeout.
	Timeout string `json:"timeout"`
}

// awsKMS is a root key held by AWS KMS.
type awsKMS struct {
	keyID   string
	region  string
	timeout time.Duration

	// The client is made on first use (or by Prefetch, in the background):
	// reading the AWS configuration costs milliseconds a process need not
	// wait for before it connects to the database.
	newClient  func() (*kms.Client, error)
	clientOnce sync.Once
	client     *kms.Client
	clientErr  error

	mu  sync.Mutex             // one DescribeKey at a time
	arn atomic.Pointer[string] // the key's ARN, from DescribeKey, once known
}

func openAWSKMS(kid string, raw json.RawMessage) (keyring.Wrapper, error) {
	var c awsKMSConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf(`"aws_kms" must be an object {"key_id": "...", "region": "...", "endpoint": "...", "timeout": "10s"}: %v`, err)
	}
	if strings.TrimSpace(c.KeyID) == "" {
		return nil, errors.New(`"aws_kms" needs "key_id": the key id, key ARN, alias name (alias/pgsecrets) or alias ARN`)
	}
	if a, err := arn.Parse(c.KeyID); err == nil {
		switch {
		case c.Region == "":
			c.Region = a.Region
		case c.Region != a.Region:
			return nil, fmt.Errorf(`"aws_kms": key_id %s is in region %s but "region" says %s: give one region`, c.KeyID, a.Region, c.Region)
		}
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf(`"aws_kms": endpoint %q is not an http(s) URL`, c.Endpoint)
		}
	}
	timeout := AWSKMSTimeout
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		if err != nil || d < minAWSKMSTimeout || d > maxAWSKMSTimeout {
			return nil, fmt.Errorf(`"aws_kms": timeout %q is not a duration from %s to %s ("10s")`, c.Timeout, minAWSKMSTimeout, maxAWSKMSTimeout)
		}
		timeout = d
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = awsKMSMaxAttempts
				o.MaxBackoff = 2 * time.Second
			})
		}),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	// Reads the environment and the shared config files only: credentials
	// are fetched (an IAM role's from the instance or the pod) on first use.
	load := func() (aws.Config, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return cfg, fmt.Errorf("AWS KMS key %s: read the AWS configuration: %w", c.KeyID, err)
		}
		return cfg, nil
	}
	k := &awsKMS{keyID: c.KeyID, region: c.Region, timeout: timeout}
	k.newClient = func() (*kms.Client, error) {
		cfg, err := load()
		if err != nil {
			return nil, err
		}
		return kms.NewFromConfig(cfg, func(o *kms.Options) {
			if c.Endpoint != "" {
				o.BaseEndpoint = aws.String(c.Endpoint)
			}
		}), nil
	}
	if c.Region == "" {
		// Only the AWS configuration can name the region: read it now, so
		// that a missing one is refused with the key file.
		cfg, err := load()
		if err != nil {
			return nil, err
		}
		if cfg.Region == "" {
			return nil, fmt.Errorf(`AWS KMS key %s: no region: give "region" in the entry, a key ARN, or set AWS_REGION`, c.KeyID)
		}
		k.region = cfg.Region
	}
	return k, nil
}

// ready gives the key's ARN and the client to call it with.
func (k *awsKMS) ready(ctx context.Context) (string, *kms.Client, error) {
	keyARN, err := k.resolve(ctx)
	if err != nil {
		return "", nil, err
	}
	client, err := k.kms()
	return keyARN, client, err
}

// kms is the key's client, made on first use.
func (k *awsKMS) kms() (*kms.Client, error) {
	k.clientOnce.Do(func() { k.client, k.clientErr = k.newClient() })
	return k.client, k.clientErr
}

func (k *awsKMS) Alg() string { return AWSKMSAlg }

// String names the key as configured and, once resolved, by its ARN, so
// that a message tells which key an alias pointed to.
func (k *awsKMS) String() string {
	if a := k.arn.Load(); a != nil && *a != k.keyID {
		return fmt.Sprintf("AWS KMS key %s in %s, %s", k.keyID, k.region, *a)
	}
	return fmt.Sprintf("AWS KMS key %s in %s", k.keyID, k.region)
}

func encryptionContext(binding keyring.Binding) map[string]string {
	return map[string]string{encryptionContextKey: string(binding)}
}

func (k *awsKMS) WrapKey(cek []byte, binding keyring.Binding) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	want, client, err := k.ready(ctx)
	if err != nil {
		return nil, err
	}
	out, err := client.Encrypt(ctx, &kms.EncryptInput{
		KeyId: aws.String(want), Plaintext: cek, EncryptionContext: encryptionContext(binding),
	})
	if err != nil {
		return nil, k.explain("Encrypt", err)
	}
	if aws.ToString(out.KeyId) != want {
		return nil, fmt.Errorf("KMS Encrypt answered for key %s, not %s: refusing its result", aws.ToString(out.KeyId), want)
	}
	return out.CiphertextBlob, nil
}

// UnwrapKey pins the key: Decrypt of a symmetric ciphertext would
// otherwise use whichever key made it, so a wrapped key planted in the
// database under another key the caller may use would open.
func (k *awsKMS) UnwrapKey(wrapped []byte, binding keyring.Binding) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	want, client, err := k.ready(ctx)
	if err != nil {
		return nil, err
	}
	out, err := client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob: wrapped, KeyId: aws.String(want), EncryptionContext: encryptionContext(binding),
	})
	if err != nil {
		return nil, k.explain("Decrypt", err)
	}
	if aws.ToString(out.KeyId) != want {
		clear(out.Plaintext)
		return nil, fmt.Errorf("KMS Decrypt answered with key %s, not %s: refusing its result", aws.ToString(out.KeyId), want)
	}
	return out.Plaintext, nil
}

// CheckValue digests the key's ARN, which DescribeKey resolves from an
// alias: another key (another alias target, account or region) gives
// another value, and an alias moved to another key is noticed at open.
func (k *awsKMS) CheckValue(deployment string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	keyARN, err := k.resolve(ctx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, []byte(deployment))
	m.Write([]byte("pgsecrets aws kms key check value v1\x00" + keyARN))
	return "aws-kms:" + hex.EncodeToString(m.Sum(nil)[:16]), nil
}

// Prefetch resolves the key in the background, so that the DescribeKey a
// process needs at open (the registry's check) overlaps its connecting to
// the database instead of following it. Load calls it; Parse, which only
// checks a key file, does not, and makes no call.
func (k *awsKMS) Prefetch() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
		defer cancel()
		// An error here is met again, and reported, by the call that needs
		// the key.
		_, _ = k.resolve(ctx)
	}()
}

// resolve gives the key's ARN, resolved once from the configured key id or alias
// by DescribeKey, which also refuses a key that cannot wrap.
func (k *awsKMS) resolve(ctx context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if a := k.arn.Load(); a != nil {
		return *a, nil
	}
	client, err := k.kms()
	if err != nil {
		return "", err
	}
	out, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.keyID)})
	if err != nil {
		return "", k.explain("DescribeKey", err)
	}
	md := out.KeyMetadata
	switch {
	case md == nil || md.Arn == nil:
		return "", errors.New("KMS DescribeKey returned no key ARN")
	case md.KeyUsage != "" && md.KeyUsage != "ENCRYPT_DECRYPT":
		return "", fmt.Errorf("%s is a %s key; a root key needs a symmetric ENCRYPT_DECRYPT key", *md.Arn, md.KeyUsage)
	case md.KeySpec != "" && md.KeySpec != "SYMMETRIC_DEFAULT":
		return "", fmt.Errorf("%s is a %s key; a root key needs a SYMMETRIC_DEFAULT key", *md.Arn, md.KeySpec)
	case !md.Enabled:
		return "", fmt.Errorf("%s is %s, not enabled: enable it (aws kms enable-key) or configure another key", *md.Arn, md.KeyState)
	}
	k.arn.Store(md.Arn)
	return *md.Arn, nil
}

// explain turns an SDK error into its cause, in words an operator acts on;
// the SDK's own message follows.
func (k *awsKMS) explain(op string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		msg := apiErr.ErrorMessage()
		switch apiErr.ErrorCode() {
		case "AccessDeniedException":
			return fmt.Errorf("access denied: the AWS identity in use may not call kms:%s on this key (check the key policy and the role's IAM policy): %s", op, msg)
		case "NotFoundException":
			return fmt.Errorf("no such key in %s (another region or account? an alias not created?): %s", k.region, msg)
		case "DisabledException":
			return fmt.Errorf("the key is disabled: enable it (aws kms enable-key) or configure another key: %s", msg)
		case "KMSInvalidStateException":
			return fmt.Errorf("the key's state forbids %s (pending deletion or import?): %s", op, msg)
		case "ThrottlingException", "LimitExceededException", "RequestLimitExceeded":
			return &keyring.KeyServiceUnavailableError{Err: fmt.Errorf("throttled by KMS, still after %d attempts with backoff: %s", awsKMSMaxAttempts, msg)}
		case "InvalidCiphertextException", "IncorrectKeyException":
			return fmt.Errorf("KMS refused the wrapped key: made by another key, for another binding, or altered: %s", msg)
		case "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "InvalidSignatureException":
			return fmt.Errorf("the AWS credentials in use are refused (%s): %s", apiErr.ErrorCode(), msg)
		}
		return fmt.Errorf("KMS %s failed: %s: %s", op, apiErr.ErrorCode(), msg)
	}
	var netErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &keyring.KeyServiceUnavailableError{Err: fmt.Errorf("no answer from KMS within %s (%s unreachable or slow, retries included)", k.timeout, op)}
	case errors.As(err, &dnsErr):
		return &keyring.KeyServiceUnavailableError{Err: fmt.Errorf("KMS unreachable (%s retried with backoff): %v", op, dnsErr)}
	case errors.As(err, &netErr):
		return &keyring.KeyServiceUnavailableError{Err: fmt.Errorf("KMS unreachable (%s retried with backoff): %v", op, netErr)}
	case strings.Contains(err.Error(), "failed to retrieve credentials") || strings.Contains(err.Error(), "no EC2 IMDS role found"):
		return fmt.Errorf("no AWS credentials: set them in the environment or shared config, or run with an IAM role: %v", oneLine(err))
	}
	return fmt.Errorf("KMS %s failed: %v", op, oneLine(err))
}

// oneLine keeps an error on one line: some SDK errors carry several.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
