package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
)

// KeyAddOptions configure `pgsecrets key add`.
type KeyAddOptions struct {
	*globalOptions
	KID string
	// File is the root keys file the reference goes first in.
	File string
	// Prepend confirms that the reference goes first, where it wraps.
	Prepend bool
	// AWSKMSKey, AWSRegion and AWSEndpoint name an AWS KMS key; AWSTimeout
	// bounds each call to it.
	AWSKMSKey   string
	AWSRegion   string
	AWSEndpoint string
	AWSTimeout  string
}

func newKeyAddCmd(g *globalOptions) *cobra.Command {
	opts := &KeyAddOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Put a root key a key service holds (AWS KMS) first in a root keys file",
		Long: `Put a reference to a key that a key service holds first in an existing root
keys file, where it wraps every new project key, data key and audit key;
the file's keys stay after it, as written, to open what they wrapped.

The file then holds no material for that key: it names the key, and only a
process whose AWS identity may call kms:Encrypt, kms:Decrypt and
kms:DescribeKey on it can use it. The entry written is

  {"kid": "prod-kms", "aws_kms": {"key_id": "alias/pgsecrets", "region": "eu-west-1"}}

--aws-kms-key takes a key id, key ARN, alias name (alias/x) or alias ARN.
The region is --aws-region, else the ARN's, else AWS_REGION where pgsecrets
runs. --aws-endpoint replaces the regional endpoint (a VPC endpoint, a
KMS-compatible service). --aws-timeout bounds each call to the key,
retries included (default 10s): past it a process fails, naming the key,
instead of waiting on an unreachable KMS. Credentials come from the AWS default chain
(environment, shared config, IAM role): never from the file.

The file is checked first and rewritten the same atomic way as by
` + "`key generate --prepend`" + `, mode 0600. Nothing is called and nothing is stored
in the database: the first process that opens the store with the new file
registers the key (by a digest of its ARN), and ` + "`pgsecrets reencrypt`" + ` then
rewraps every key under it (docs/rotation.md).`,
		Example: `  # Move from a JWK root to an AWS KMS key: the KMS key first, the JWK kept
  pgsecrets key add --out root-keys.json --prepend --kid prod-kms \
    --aws-kms-key alias/pgsecrets --aws-region eu-west-1
  pgsecrets reencrypt

  # A key by ARN, through a VPC endpoint
  pgsecrets key add --out root-keys.json --prepend --kid prod-kms-2 \
    --aws-kms-key arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab \
    --aws-endpoint https://vpce-0abc.kms.eu-west-1.vpce.amazonaws.com`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case opts.File == "":
				return usageErrorf(cmd, "--out is required: the root keys file to put the key in (create one with `pgsecrets key generate --out FILE`)")
			case !opts.Prepend:
				return usageErrorf(cmd, "--prepend is required: the key goes first in --out's existing root keys, where it wraps new keys")
			case opts.KID == "" || strings.TrimSpace(opts.KID) != opts.KID:
				return usageErrorf(cmd, "--kid is required, without leading or trailing spaces: a name of your choosing for the key, unique among the root keys (prod-kms)")
			case opts.AWSKMSKey == "":
				return usageErrorf(cmd, "--aws-kms-key is required: the key id, key ARN, alias name (alias/pgsecrets) or alias ARN")
			}
			return runKeyAdd(opts)
		},
	}
	cmd.Flags().StringVar(&opts.File, "out", "", "the root keys file to put the key first in")
	cmd.Flags().BoolVar(&opts.Prepend, "prepend", false, "put the key first in --out's existing root keys (required)")
	cmd.Flags().StringVar(&opts.KID, "kid", "", "key id of the new root key, unique among the root keys")
	cmd.Flags().StringVar(&opts.AWSKMSKey, "aws-kms-key", "", "AWS KMS key: key id, key ARN, alias name (alias/x) or alias ARN")
	cmd.Flags().StringVar(&opts.AWSRegion, "aws-region", "", "AWS region of the key (default: the ARN's, else AWS_REGION)")
	cmd.Flags().StringVar(&opts.AWSEndpoint, "aws-endpoint", "", "KMS endpoint URL replacing the regional one")
	cmd.Flags().StringVar(&opts.AWSTimeout, "aws-timeout", "", "bound on each KMS call, retries included (default 10s)")
	return cmd
}

func runKeyAdd(opts *KeyAddOptions) error {
	type awsKMS struct {
		KeyID    string `json:"key_id"`
		Region   string `json:"region,omitempty"`
		Endpoint string `json:"endpoint,omitempty"`
		Timeout  string `json:"timeout,omitempty"`
	}
	entry, err := json.Marshal(struct {
		KID    string `json:"kid"`
		AWSKMS awsKMS `json:"aws_kms"`
	}{opts.KID, awsKMS{opts.AWSKMSKey, opts.AWSRegion, opts.AWSEndpoint, opts.AWSTimeout}})
	if err != nil {
		return fmt.Errorf("encode key %s: %w", opts.KID, err)
	}
	// The entry is read as every process will read it: a reference this
	// build cannot use, or one without a region, is refused now.
	if _, err := rootkeys.Parse([]byte("[" + string(entry) + "]")); err != nil {
		return fmt.Errorf("%s was left unchanged: %w", opts.File, err)
	}
	return prependToKeyFile(opts.IO, opts.File, opts.KID, entry)
}
