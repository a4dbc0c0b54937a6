package secretsource

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/dotenv"
)

// The shapes a file is read as. A JSON or YAML file is recognised by its
// structure; anything else that is a map of keys to values is read as one.
const (
	shapeDotenv     = "dotenv"
	shapeFlat       = "a map of keys to values"
	shapeDoppler    = "Doppler (doppler secrets download)"
	shapeVaultV2    = "Vault KV v2 (vault kv get -format=json)"
	shapeVaultV1    = "Vault KV v1 (vault kv get -format=json)"
	shapeVaultDump  = "Vault KV dump of several paths (vkv export)"
	shapeInfisical  = "Infisical (infisical export --format json)"
	shapeKubernetes = "Kubernetes Secret manifest"
)

// dopplerKeys are the settings Doppler adds to every download. They name
// where the secrets came from; once the secrets live here they would only
// be stale.
var dopplerKeys = []string{"DOPPLER_PROJECT", "DOPPLER_CONFIG", "DOPPLER_ENVIRONMENT"}

const dopplerReason = "set by Doppler to name its project and config, not a secret of the application"

func parseDotenv(content string) (*Result, error) {
	parsed, err := dotenv.Parse(content)
	if err != nil {
		return nil, err
	}
	res := &Result{Shape: shapeDotenv, Generic: true}
	for _, e := range parsed {
		res.Entries = append(res.Entries, Entry{Key: e.Name, Value: e.Value, Source: fmt.Sprintf("line %d", e.Line), Line: e.Line})
	}
	dropDoppler(res)
	return res, nil
}

// extract finds the secrets in a parsed JSON or YAML document.
func extract(root *node, nested Nested, fromYAML bool) (*Result, error) {
	x := &extractor{nested: nested, fromYAML: fromYAML}
	switch {
	case root.kind == kindList:
		return x.infisical(root)
	case root.kind != kindObject:
		return nil, fmt.Errorf("the top level is a single value; expected a map of secret names to values")
	case root.get("sops").isObject() && (root.get("sops").get("mac") != nil || root.get("sops").get("lastmodified") != nil):
		return nil, errEncrypted
	case scalarText(root.get("kind")) == "List" && root.get("apiVersion") != nil && root.get("items") != nil:
		return nil, fmt.Errorf("a Kubernetes List (of %d objects): import one Secret at a time, e.g. kubectl get secret NAME -o yaml", len(root.get("items").vals))
	case scalarText(root.get("kind")) == "Secret" && root.get("apiVersion") != nil:
		return x.kubernetes(root)
	case root.get("data").isObject() && root.get("data").get("metadata").isObject() && root.get("data").get("data") != nil:
		return x.vaultV2(root)
	case root.get("request_id") != nil && root.get("lease_id") != nil && root.get("data").isObject():
		res := &Result{Shape: shapeVaultV1}
		return res, x.flat(res, root.get("data"), "data", "")
	case len(root.keys) == 1 && strings.HasSuffix(root.keys[0], "/") && root.vals[0].isObject():
		res := &Result{Shape: shapeVaultDump}
		return res, x.vaultDump(res, root.vals[0], root.keys[0], "")
	}
	res := &Result{Shape: shapeFlat, Generic: true}
	if err := x.flat(res, root, "", ""); err != nil {
		return nil, err
	}
	dropDoppler(res)
	return res, nil
}

type extractor struct {
	nested   Nested
	fromYAML bool
}

// flat reads every key of obj as a secret; path is obj's key path,
// vaultPath the Vault path of a dump's secret.
func (x *extractor) flat(res *Result, obj *node, path, vaultPath string) error {
	for i, key := range obj.keys {
		source := join(path, key)
		if vaultPath != "" {
			source = path + ":" + key
		}
		v, err := x.value(obj.vals[i], source)
		if err != nil {
			return err
		}
		res.Entries = append(res.Entries, Entry{Key: key, Value: v, Source: source, Path: vaultPath, Line: obj.vals[i].line})
	}
	return nil
}

// value is a secret's value: a scalar's text, nothing for a null (the
// store then reports the value empty, as for NAME= in a .env file), or a
// nested value's JSON text when asked for.
func (x *extractor) value(n *node, source string) (string, error) {
	switch n.kind {
	case kindString, kindNumber, kindBool:
		return n.text, nil
	case kindNull:
		return "", nil
	}
	if x.nested != NestedAsJSON {
		what := "a map"
		if n.kind == kindList {
			what = "a list"
		}
		if x.fromYAML {
			what += fmt.Sprintf(" (line %d)", n.line)
		}
		return "", fmt.Errorf("%s holds %s, not one value; pass --nested json to store it as JSON text, or flatten it in the file", source, what)
	}
	var buf bytes.Buffer
	writeJSON(&buf, n)
	return buf.String(), nil
}

func (x *extractor) vaultV2(root *node) (*Result, error) {
	data := root.get("data")
	res := &Result{Shape: shapeVaultV2}
	if v := scalarText(data.get("metadata").get("version")); v != "" {
		res.Shape += ", version " + v
	}
	secrets := data.get("data")
	if secrets.kind == kindNull {
		return nil, fmt.Errorf("data.data is null: Vault reports this version of the secret as deleted or destroyed; undelete it (vault kv undelete) or get an earlier one (vault kv get -version=N)")
	}
	if !secrets.isObject() {
		return nil, fmt.Errorf("data.data is not a map of keys to values, as vault kv get prints for a KV v2 secret")
	}
	return res, x.flat(res, secrets, "data.data", "")
}

// vaultDump walks a vkv export: keys ending in "/" are directories, the
// others secrets holding keys and values. rel is the path inside the mount.
func (x *extractor) vaultDump(res *Result, dir *node, mount, rel string) error {
	for i, key := range dir.keys {
		child := dir.vals[i]
		if !child.isObject() {
			return fmt.Errorf("%s%s%s is not a map: a vkv export holds directories (ending in /) and secrets (maps of keys to values)", mount, rel, key)
		}
		if strings.HasSuffix(key, "/") {
			if err := x.vaultDump(res, child, mount, rel+key); err != nil {
				return err
			}
			continue
		}
		if err := x.flat(res, child, mount+rel+key, rel+key); err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) infisical(root *node) (*Result, error) {
	res := &Result{Shape: shapeInfisical}
	seen := map[string]string{}
	for i, item := range root.vals {
		source := index("", i)
		key := item.get("key")
		if !item.isObject() || key == nil || key.kind != kindString || item.get("value") == nil {
			return nil, fmt.Errorf("%s is not an object with a key and a value: a list at the top level is read as Infisical's export (infisical export --format json)", source)
		}
		source += " " + key.text
		if first, dup := seen[key.text]; dup {
			return nil, fmt.Errorf("%s appears twice (%s and %s); keep one: which value the application used is not something to guess", key.text, first, source)
		}
		seen[key.text] = source
		if scalarText(item.get("type")) == "personal" {
			res.Dropped = append(res.Dropped, Dropped{Key: key.text, Source: source, Reason: "an Infisical personal override, not the shared value; export with --secret-overriding=false"})
			continue
		}
		v, err := x.value(item.get("value"), source+".value")
		if err != nil {
			return nil, err
		}
		res.Entries = append(res.Entries, Entry{Key: key.text, Value: v, Source: source, Description: scalarText(item.get("comment"))})
	}
	return res, nil
}

// kubernetes reads a Secret's data (base64) and stringData (plain). A key
// in both is refused: Kubernetes lets stringData win, but a migration
// should not pick between two values silently.
func (x *extractor) kubernetes(root *node) (*Result, error) {
	res := &Result{Shape: shapeKubernetes}
	data, plain := root.get("data"), root.get("stringData")
	if !data.isObject() && !plain.isObject() {
		return nil, fmt.Errorf("the Secret has no data or stringData map")
	}
	seen := map[string]string{}
	for _, part := range []struct {
		name   string
		obj    *node
		base64 bool
	}{{"data", data, true}, {"stringData", plain, false}} {
		if !part.obj.isObject() {
			continue
		}
		for i, key := range part.obj.keys {
			source := join(part.name, key)
			if first, dup := seen[key]; dup {
				return nil, fmt.Errorf("%s and %s are the same key; keep one: which value the application used is not something to guess", first, source)
			}
			seen[key] = source
			v, err := x.value(part.obj.vals[i], source)
			if err != nil {
				return nil, err
			}
			if part.base64 {
				decoded, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					return nil, fmt.Errorf("%s is not valid base64, as a Secret's data must be (plain values go under stringData)", source)
				}
				v = string(decoded)
			}
			res.Entries = append(res.Entries, Entry{Key: key, Value: v, Source: source, Line: part.obj.vals[i].line})
		}
	}
	return res, nil
}

// dropDoppler leaves out the settings Doppler adds to a download, when all
// of them are there (the mark of a Doppler download).
func dropDoppler(res *Result) {
	found := 0
	for _, e := range res.Entries {
		for _, k := range dopplerKeys {
			if e.Key == k {
				found++
			}
		}
	}
	if found != len(dopplerKeys) {
		return
	}
	res.Shape, res.Generic = shapeDoppler, false
	kept := res.Entries[:0]
	for _, e := range res.Entries {
		if isDopplerKey(e.Key) {
			res.Dropped = append(res.Dropped, Dropped{Key: e.Key, Source: e.Source, Reason: dopplerReason})
			continue
		}
		kept = append(kept, e)
	}
	res.Entries = kept
}

func isDopplerKey(key string) bool {
	for _, k := range dopplerKeys {
		if key == k {
			return true
		}
	}
	return false
}

func scalarText(n *node) string {
	if n == nil || n.kind == kindObject || n.kind == kindList || n.kind == kindNull {
		return ""
	}
	return n.text
}
