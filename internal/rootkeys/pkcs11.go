//go:build cgo

package rootkeys

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// A PKCS#11 root key is an AES-256 key object on a token (an HSM, or
// SoftHSM in the tests) that never leaves it: the token wraps and unwraps
// content keys with CKM_AES_KEY_WRAP (RFC 3394), which is exactly JWE's
// A256KW, so what it wraps is a standard JWE. crypto11 has no key wrap,
// hence github.com/miekg/pkcs11 directly.

func init() { kinds["pkcs11"] = openPKCS11 }

// pkcs11CallTimeout bounds every call into a module: a token that does not
// answer fails the call rather than hang the process.
var pkcs11CallTimeout = 10 * time.Second

type pkcs11Config struct {
	URI string `json:"uri"`
}

func openPKCS11(kid string, config json.RawMessage) (keyring.Wrapper, error) {
	var c pkcs11Config
	dec := json.NewDecoder(strings.NewReader(string(config)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.URI == "" {
		return nil, errors.New(`a pkcs11 root key is {"kid": "...", "pkcs11": {"uri": "pkcs11:token=...;object=..."}}`)
	}
	u, err := parsePKCS11URI(c.URI)
	if err != nil {
		return nil, err
	}
	// The module, the PIN and the token are reached on first use, so that
	// a process that never needs the root (the planner, `key generate`)
	// needs none of them.
	return &pkcs11Key{uri: u}, nil
}

// pkcs11Key is a root key on a token.
type pkcs11Key struct {
	uri *pkcs11URI

	mu  sync.Mutex
	tok *pkcs11Token
	obj pkcs11.ObjectHandle
	// unwraps counts unwrap calls, which the tests hold to one per key a
	// process needs.
	unwraps atomic.Int64
}

// Alg is A256KW: the key is refused on first use unless it is AES-256.
func (k *pkcs11Key) Alg() string { return "A256KW" }

func (k *pkcs11Key) String() string { return "PKCS#11 key " + k.uri.raw }

func (k *pkcs11Key) WrapKey(cek []byte, _ keyring.Binding) ([]byte, error) {
	return k.wrap(cek)
}

func (k *pkcs11Key) UnwrapKey(wrapped []byte, _ keyring.Binding) ([]byte, error) {
	k.unwraps.Add(1)
	tok, obj, err := k.connect()
	if err != nil {
		return nil, err
	}
	var out []byte
	err = tok.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		// The content key comes back as a session object this process
		// reads and destroys: the only way PKCS#11 hands unwrapped bytes
		// back.
		h, err := ctx.UnwrapKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP, nil)}, obj, wrapped, sessionSecretTemplate(nil))
		if err != nil {
			return fmt.Errorf("unwrap: %w", err)
		}
		defer ctx.DestroyObject(sh, h)
		attrs, err := ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil {
			return fmt.Errorf("read the unwrapped key: %w", err)
		}
		out = attrs[0].Value
		return nil
	})
	if err != nil {
		return nil, k.explain(err)
	}
	return out, nil
}

// CheckValue is a digest of the token's AES key wrap of a value derived
// from the deployment: AES key wrap is deterministic, so the same object
// gives the same value and another object another. The wrap itself is
// never stored: whoever knew the wrapped form of a known key could forge a
// JWE under this root.
func (k *pkcs11Key) CheckValue(deployment string) (string, error) {
	probe := sha256.Sum256([]byte("pgsecrets pkcs11 check value v1\x00" + deployment))
	wrapped, err := k.wrap(probe[:])
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append([]byte("pgsecrets pkcs11 check value v1\x00"), wrapped...))
	return hex.EncodeToString(sum[:16]), nil
}

// wrap has the token wrap key bytes under the root key.
func (k *pkcs11Key) wrap(key []byte) ([]byte, error) {
	tok, obj, err := k.connect()
	if err != nil {
		return nil, err
	}
	var out []byte
	err = tok.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		// C_WrapKey wraps objects: the bytes become a session object for
		// the call's length.
		h, err := ctx.CreateObject(sh, sessionSecretTemplate(key))
		if err != nil {
			return fmt.Errorf("load the key to wrap: %w", err)
		}
		defer ctx.DestroyObject(sh, h)
		out, err = ctx.WrapKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP, nil)}, obj, h)
		if err != nil {
			return fmt.Errorf("wrap: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, k.explain(err)
	}
	return out, nil
}

// sessionSecretTemplate describes a content key as a session object (never
// on the token), extractable so that the token can wrap it and this
// process read it back.
func sessionSecretTemplate(value []byte) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
	}
	if value != nil {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_VALUE, value))
	}
	return t
}

// explain turns a module's error code into the cause a user can act on.
// The keyring names the key (String) before it.
func (k *pkcs11Key) explain(err error) error {
	var code pkcs11.Error
	if errors.As(err, &code) {
		switch code {
		case pkcs11.CKR_PIN_INCORRECT:
			return fmt.Errorf("wrong PIN (check %s / %s)", EnvPKCS11PIN, EnvPKCS11PINFile)
		case pkcs11.CKR_PIN_LOCKED:
			return errors.New("the token's PIN is locked after too many wrong tries; its security officer must unlock it")
		case pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED, pkcs11.CKR_WRAPPING_KEY_TYPE_INCONSISTENT, pkcs11.CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT:
			return fmt.Errorf("the token refuses to wrap with this object (%w): it must be an AES-256 key with CKA_WRAP and CKA_UNWRAP", err)
		case pkcs11.CKR_WRAPPED_KEY_INVALID, pkcs11.CKR_WRAPPED_KEY_LEN_RANGE, pkcs11.CKR_ENCRYPTED_DATA_INVALID:
			return errors.New("the token cannot unwrap this key: it was wrapped by another key object")
		}
	}
	if tokenUnavailable(err) {
		// The token, not the key or the data: a reencrypt stops whole
		// rather than count every secret after it as failed. The session
		// is dropped (try), so the next call opens a new one.
		return &keyring.KeyServiceUnavailableError{Err: fmt.Errorf("the token is unavailable (removed, disconnected or failing): %w", err)}
	}
	return err
}

// tokenUnavailable tells a token or device that is gone or failing from
// a refusal of this key or of this data.
func tokenUnavailable(err error) bool {
	return isPKCS11Error(err, pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_DEVICE_ERROR,
		pkcs11.CKR_DEVICE_MEMORY, pkcs11.CKR_SLOT_ID_INVALID, pkcs11.CKR_GENERAL_ERROR, pkcs11.CKR_TOKEN_NOT_RECOGNIZED)
}

// connect finds the token and the key object once, and checks that the
// object is an AES-256 key the token may wrap with.
func (k *pkcs11Key) connect() (*pkcs11Token, pkcs11.ObjectHandle, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tok != nil && !k.tok.mod.closed.Load() {
		return k.tok, k.obj, nil
	}
	module, err := k.uri.module()
	if err != nil {
		return nil, 0, err
	}
	pin, err := k.uri.pin()
	if err != nil {
		return nil, 0, err
	}
	mod, err := loadPKCS11Module(module)
	if err != nil {
		return nil, 0, err
	}
	tok, err := mod.token(k.uri, pin)
	if err != nil {
		return nil, 0, k.explain(err)
	}
	var obj pkcs11.ObjectHandle
	err = tok.do(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		obj, err = findKeyObject(ctx, sh, k.uri)
		return err
	})
	if err != nil {
		return nil, 0, k.explain(err)
	}
	k.tok, k.obj = tok, obj
	return tok, obj, nil
}

// findKeyObject finds the one secret key object the URI names and checks
// what it is.
func findKeyObject(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, u *pkcs11URI) (pkcs11.ObjectHandle, error) {
	var named []*pkcs11.Attribute
	if u.object != "" {
		named = append(named, pkcs11.NewAttribute(pkcs11.CKA_LABEL, u.object))
	}
	if u.id != nil {
		named = append(named, pkcs11.NewAttribute(pkcs11.CKA_ID, u.id))
	}
	found, err := findObjects(ctx, sh, append([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY)}, named...))
	if err != nil {
		return 0, err
	}
	switch {
	case len(found) > 1:
		return 0, fmt.Errorf("%d secret key objects match: name one (add id= to the URI)", len(found))
	case len(found) == 0:
		if other, _ := findObjects(ctx, sh, named); len(other) > 0 {
			return 0, errors.New("the object is not a secret key (a certificate or key pair?): a root key is an AES-256 secret key")
		}
		return 0, errors.New("no such key object on the token (or the PIN does not give access to it)")
	}
	attrs, err := ctx.GetAttributeValue(sh, found[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, nil),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, nil),
	})
	if err != nil {
		return 0, fmt.Errorf("read the key object's attributes: %w", err)
	}
	keyType, size := attrUint(attrs[0]), attrUint(attrs[1])
	if keyType != pkcs11.CKK_AES || size != 32 {
		what := fmt.Sprintf("a key of type 0x%x", keyType)
		if keyType == pkcs11.CKK_AES {
			what = fmt.Sprintf("AES-%d", size*8)
		}
		return 0, fmt.Errorf("the key object is %s, not AES-256: a root key wraps with AES-256 (A256KW)", what)
	}
	if !attrBool(attrs[2]) || !attrBool(attrs[3]) {
		return 0, errors.New("the key object may not wrap and unwrap (CKA_WRAP and CKA_UNWRAP must be true)")
	}
	return found[0], nil
}

func findObjects(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, template []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := ctx.FindObjectsInit(sh, template); err != nil {
		return nil, fmt.Errorf("find the key object: %w", err)
	}
	defer ctx.FindObjectsFinal(sh)
	found, _, err := ctx.FindObjects(sh, 2)
	if err != nil {
		return nil, fmt.Errorf("find the key object: %w", err)
	}
	return found, nil
}

// attrUint reads a CK_ULONG attribute, stored in the platform's order and
// size.
func attrUint(a *pkcs11.Attribute) uint {
	switch len(a.Value) {
	case 4:
		return uint(binary.NativeEndian.Uint32(a.Value))
	case 8:
		return uint(binary.NativeEndian.Uint64(a.Value))
	}
	return 0
}

func attrBool(a *pkcs11.Attribute) bool { return len(a.Value) == 1 && a.Value[0] != 0 }

// A process loads each module once and keeps one pool of sessions per
// token: PKCS#11 allows one C_Initialize per module and process, and a
// login holds for every session of the process on that token.
var pkcs11Modules = struct {
	sync.Mutex
	byPath map[string]*pkcs11Module
}{byPath: map[string]*pkcs11Module{}}

type pkcs11Module struct {
	path   string
	ctx    *pkcs11.Ctx
	closed atomic.Bool // by ClosePKCS11: a key then reconnects
	mu     sync.Mutex
	tokens map[uint]*pkcs11Token
}

// pkcs11Token is a pool of sessions on one token, logged in.
type pkcs11Token struct {
	mod  *pkcs11Module
	slot uint
	pin  string // to log in again when the module drops the login
	idle chan pkcs11.SessionHandle
}

func loadPKCS11Module(path string) (*pkcs11Module, error) {
	pkcs11Modules.Lock()
	defer pkcs11Modules.Unlock()
	if m := pkcs11Modules.byPath[path]; m != nil {
		return m, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("PKCS#11 module %s: %w (set module-path in the URI or %s to the module your HSM's vendor installs)", path, errors.Unwrap(err), EnvPKCS11Module)
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("PKCS#11 module %s cannot be loaded: not a PKCS#11 module for this platform", path)
	}
	if err := bounded("initialize the PKCS#11 module "+path, func() error {
		err := ctx.Initialize()
		if isPKCS11Error(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			return nil
		}
		return err
	}); err != nil {
		ctx.Destroy()
		return nil, fmt.Errorf("initialize the PKCS#11 module %s: %w", path, err)
	}
	m := &pkcs11Module{path: path, ctx: ctx, tokens: map[uint]*pkcs11Token{}}
	pkcs11Modules.byPath[path] = m
	return m, nil
}

// token finds the token the URI names and logs in to it, once.
func (m *pkcs11Module) token(u *pkcs11URI, pin string) (*pkcs11Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var slots []uint
	if err := bounded("list the tokens", func() (err error) {
		slots, err = m.ctx.GetSlotList(true)
		return err
	}); err != nil {
		return nil, fmt.Errorf("list the tokens of module %s: %w", m.path, err)
	}
	var labels []string
	slot, found := uint(0), false
	for _, s := range slots {
		var info pkcs11.TokenInfo
		if err := bounded("read a token's label", func() (err error) {
			info, err = m.ctx.GetTokenInfo(s)
			return err
		}); err != nil {
			return nil, fmt.Errorf("read the label of the token in slot %d: %w", s, err)
		}
		if info.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue // an empty slot, such as SoftHSM's free one
		}
		label := strings.TrimRight(info.Label, " \x00")
		labels = append(labels, fmt.Sprintf("%q", label))
		if (u.token == "" || u.token == label) &&
			(u.serial == "" || u.serial == strings.TrimRight(info.SerialNumber, " \x00")) &&
			(u.slotID == nil || *u.slotID == s) {
			if found {
				return nil, errors.New("more than one token matches: add serial= or slot-id= to the URI")
			}
			slot, found = s, true
		}
	}
	if !found {
		have := "none"
		if len(labels) > 0 {
			have = strings.Join(labels, ", ")
		}
		return nil, fmt.Errorf("no such token in module %s (tokens present: %s)", m.path, have)
	}
	// PKCS#11 logs a process in to a token, not a session: a second entry
	// on the same token shares the first one's login (and its PIN).
	if t := m.tokens[slot]; t != nil {
		return t, nil
	}
	t := &pkcs11Token{mod: m, slot: slot, pin: pin, idle: make(chan pkcs11.SessionHandle, 8)}
	if err := t.login(); err != nil {
		return nil, err
	}
	m.tokens[slot] = t
	return t, nil
}

func (t *pkcs11Token) open() (pkcs11.SessionHandle, error) {
	var sh pkcs11.SessionHandle
	err := bounded("open a session on the token", func() (err error) {
		sh, err = t.mod.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("open a session on the token: %w", err)
	}
	return sh, nil
}

// do runs fn on a session of the pool, within the call timeout. When the
// module has dropped the session or the login (an HSM that restarted, a
// network HSM that reconnected), it logs in again and tries once more.
func (t *pkcs11Token) do(fn func(*pkcs11.Ctx, pkcs11.SessionHandle) error) error {
	err := t.try(fn)
	if isPKCS11Error(err, pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED) {
		if err := t.login(); err != nil {
			return err
		}
		err = t.try(fn)
	}
	return err
}

// try runs fn on a session of the pool. A session whose call timed out is
// left to its call, and one the module no longer knows is dropped: neither
// returns to the pool.
func (t *pkcs11Token) try(fn func(*pkcs11.Ctx, pkcs11.SessionHandle) error) error {
	var sh pkcs11.SessionHandle
	select {
	case sh = <-t.idle:
	default:
		var err error
		if sh, err = t.open(); err != nil {
			return err
		}
	}
	err := bounded("call the token", func() error { return fn(t.mod.ctx, sh) })
	var timeout *pkcs11TimeoutError
	if errors.As(err, &timeout) {
		return err
	}
	if tokenUnavailable(err) || isPKCS11Error(err, pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED) {
		t.mod.ctx.CloseSession(sh)
		return err
	}
	select {
	case t.idle <- sh:
	default:
		t.mod.ctx.CloseSession(sh)
	}
	return err
}

// login logs the process in to the token (a login holds for all its
// sessions there) and leaves the session it used in the pool.
func (t *pkcs11Token) login() error {
	sh, err := t.open()
	if err != nil {
		return err
	}
	if err := bounded("log in to the token", func() error {
		err := t.mod.ctx.Login(sh, pkcs11.CKU_USER, t.pin)
		if isPKCS11Error(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
			return nil
		}
		return err
	}); err != nil {
		t.mod.ctx.CloseSession(sh)
		return fmt.Errorf("log in to the token: %w", err)
	}
	select {
	case t.idle <- sh:
	default:
		t.mod.ctx.CloseSession(sh)
	}
	return nil
}

func isPKCS11Error(err error, codes ...uint) bool {
	var code pkcs11.Error
	if !errors.As(err, &code) {
		return false
	}
	for _, c := range codes {
		if uint(code) == c {
			return true
		}
	}
	return false
}

type pkcs11TimeoutError struct{ what string }

func (e *pkcs11TimeoutError) Error() string {
	return fmt.Sprintf("%s: no answer within %s (is the HSM reachable?)", e.what, pkcs11CallTimeout)
}

// bounded runs a call into the module and gives up waiting after the call
// timeout: a C call cannot be cancelled, so it is left to finish on its
// own goroutine.
func bounded(what string, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(pkcs11CallTimeout):
		return &keyring.KeyServiceUnavailableError{Err: &pkcs11TimeoutError{what: what}}
	}
}

// ClosePKCS11 closes every session, logs out and unloads every module this
// process loaded. A root key used after it reconnects.
func ClosePKCS11() {
	pkcs11Modules.Lock()
	defer pkcs11Modules.Unlock()
	for path, m := range pkcs11Modules.byPath {
		m.closed.Store(true)
		m.mu.Lock()
		for _, t := range m.tokens {
			closeIdle(t)
		}
		m.mu.Unlock()
		// C_Finalize closes what is left (a session still in a timed out
		// call, the login).
		_ = bounded("finalize the PKCS#11 module "+path, m.ctx.Finalize)
		m.ctx.Destroy()
		delete(pkcs11Modules.byPath, path)
	}
}

func closeIdle(t *pkcs11Token) {
	for {
		select {
		case sh := <-t.idle:
			t.mod.ctx.CloseSession(sh)
		default:
			return
		}
	}
}
