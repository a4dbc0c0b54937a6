package keyring

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzHeaderFieldsAgreeWithEncodingJSON holds the fast header reader to the
// general one: whatever it accepts, encoding/json reads the same way.
func FuzzHeaderFieldsAgreeWithEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		`{"alg":"dir","enc":"A256GCM","kid":"k1","pgsecrets_bind":"secret:p/N#3"}`,
		`{"alg":"A256GCMKW","enc":"A256GCM","iv":"AAAA","tag":"BBBB","kid":"k"}`,
		`{"alg":"dir","alg":"A128KW"}`, `{"kid":"a","KID":"b"}`, `{}`, `{"a":"b",}`, `{"a":"\u0041"}`,
		`{"a":"b"}x`, `{"a" :"b"}`, `{"a":1}`, `{"zip":""}`, "{\"a\":\"\x7f\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, ok := flatHeaderFields(string(raw), nil)
		if !ok {
			return
		}
		var general map[string]any
		if err := json.Unmarshal(raw, &general); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refuses it: %v", raw, err)
		}
		if n, ok := countMembers(raw); !ok || n != len(general) {
			t.Fatalf("fast path accepted %q, which has duplicate members", raw)
		}
		read := map[string]any{}
		for _, m := range fast {
			read[m.name], _ = m.str()
		}
		if !reflect.DeepEqual(read, general) {
			t.Fatalf("%q: fast path read %v, encoding/json %v", raw, read, general)
		}
	})
}

// FuzzMarshalHeaderMatchesEncodingJSON holds the hand-written header to
// what encoding/json writes for the same values.
func FuzzMarshalHeaderMatchesEncodingJSON(f *testing.F) {
	f.Add("dir", "A256GCM", "", "261130-abcd", "secret:app/API_KEY#3", "")
	f.Add("A256GCMKW", "A256GCM", "AAAAAAAAAAAAAAAA", "k", "", "BBBBBBBBBBBBBBBBBBBBBB")
	f.Add("dir", "A256GCM", "", "k<&>", "secret:a/\"b\"#1", "")
	f.Add("dir", "", "", "", "caf\u00e9\n", "")
	f.Fuzz(func(t *testing.T, alg, enc, iv, kid, bind, tag string) {
		h := gcmkwHeader{Alg: alg, Enc: enc, IV: iv, KID: kid, Bind: bind, Tag: tag}
		got, err := marshalHeader(h)
		want, wantErr := json.Marshal(h)
		if err != nil || wantErr != nil || string(got) != string(want) {
			t.Fatalf("marshalHeader(%+v) = %s, %v; encoding/json writes %s, %v", h, got, err, want, wantErr)
		}
	})
}
