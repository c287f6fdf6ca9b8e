package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Role is what a staff member of a shop may do, as a bundle of permissions.
type Role string

// Roles, from the most to the least powerful.
const (
	RoleOwner   Role = "owner"
	RoleAdmin   Role = "admin"
	RoleSupport Role = "support"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { _, ok := rolePermissions[r]; return ok }

// Permission is one thing a staff member may do in the console or the
// admin API. Routes ask for one; roles grant a set.
type Permission string

// Permissions.
const (
	ViewCustomers      Permission = "view_customers"
	AdjustBalance      Permission = "adjust_balance"
	ResendMessages     Permission = "resend_messages"
	ExportCustomerData Permission = "export_customer_data"
	EditProgram        Permission = "edit_program"
	EditRewards        Permission = "edit_rewards"
	ManageStaff        Permission = "manage_staff"
	// ApproveAdjustments decides on adjustments above the requester's limit.
	ApproveAdjustments Permission = "approve_adjustments"
)

// Permissions lists every permission, in a stable order.
var Permissions = []Permission{ViewCustomers, AdjustBalance, ResendMessages, ExportCustomerData, EditProgram, EditRewards, ManageStaff,
	ApproveAdjustments}

// rolePermissions is the permission matrix: owners do everything; admins
// run the program (settings, rewards, staff), see customers and approve
// large adjustments; support
// staff look after customers (balances, messages, data requests) but
// change no settings.
var rolePermissions = map[Role][]Permission{
	RoleOwner:   Permissions,
	RoleAdmin:   {ViewCustomers, EditProgram, EditRewards, ManageStaff, ApproveAdjustments},
	RoleSupport: {ViewCustomers, AdjustBalance, ResendMessages, ExportCustomerData},
}

// Can reports whether the role grants p.
func (r Role) Can(p Permission) bool {
	for _, q := range rolePermissions[r] {
		if q == p {
			return true
		}
	}
	return false
}

// Permissions lists what the role grants.
func (r Role) Permissions() []Permission { return append([]Permission(nil), rolePermissions[r]...) }

// Staff is a person who works on a shop's loyalty program.
type Staff struct {
	ID           int64
	ShopID       int64
	Email        string
	Name         string
	Role         Role
	PasswordHash string
	FailedLogins int
	LockedUntil  time.Time // zero when not locked
	CreatedAt    time.Time
	DisabledAt   time.Time // zero while the account is in use
}

// Can reports whether the staff member may do p: a disabled account may
// do nothing.
func (m Staff) Can(p Permission) bool { return m.DisabledAt.IsZero() && m.Role.Can(p) }

// StaffSession is a signed-in browser. ID is the SHA-256 of the token in
// its cookie; CSRF is the token every form it posts must carry.
type StaffSession struct {
	ID         string
	StaffID    int64
	CSRF       string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
}

// APIToken is a staff member's bearer token for the admin API. The token
// itself is shown once, when created; only its hash is kept.
type APIToken struct {
	ID         int64
	StaffID    int64
	Name       string
	Prefix     string // the token's first characters, to tell tokens apart
	CreatedAt  time.Time
	RevokedAt  time.Time
	LastUsedAt time.Time
}

// Sign-in rules.
const (
	MinPasswordLength = 12
	// MaxFailedLogins wrong passwords in a row lock the account for
	// LockoutPeriod: enough for typos, too few for guessing.
	MaxFailedLogins = 5
	LockoutPeriod   = 15 * time.Minute
	// SessionIdle is how long a console session lives without use; each
	// request extends it.
	SessionIdle = 12 * time.Hour
	// APITokenPrefix starts every API token, so a leaked one is easy to
	// recognise (and to search for in code).
	APITokenPrefix = "lyt_"
)

// ErrBadCredentials is the one answer to a wrong email or password: it
// does not tell which was wrong.
var ErrBadCredentials = &Error{Code: EForbidden, Message: "email or password is wrong"}

// ErrLockedOut answers a sign-in while the account is locked.
var ErrLockedOut = &Error{Code: EForbidden, Message: "too many failed sign-ins: the account is locked for 15 minutes"}

// ErrUnauthenticated answers an unknown, expired or revoked session or token.
var ErrUnauthenticated = &Error{Code: EForbidden, Message: "not signed in"}

// PasswordHasher hashes and checks passwords; a slow hash (bcrypt) lives
// outside app.
type PasswordHasher interface {
	Hash(password string) (string, error)
	// Compare returns nil when password matches hash.
	Compare(hash, password string) error
}

// StaffStore is the persistence of staff, sessions and API tokens.
type StaffStore interface {
	// CreateStaff stores a staff member; a taken email is a conflict.
	CreateStaff(ctx context.Context, m Staff) (Staff, error)
	StaffByEmail(ctx context.Context, shopID int64, email string) (Staff, error)
	// FailedLogin counts a wrong password and, at the max-th in a row,
	// locks the account until lockUntil and starts the count again.
	FailedLogin(ctx context.Context, staffID int64, max int, lockUntil time.Time) (Staff, error)
	// SucceededLogin clears the failure count.
	SucceededLogin(ctx context.Context, staffID int64) error
	CreateSession(ctx context.Context, sess StaffSession) error
	// TouchSession returns the session with id that is live at now, and
	// its staff member, and extends it until expires.
	TouchSession(ctx context.Context, id string, now, expires time.Time) (StaffSession, Staff, error)
	DeleteSession(ctx context.Context, id string) error
	CreateAPIToken(ctx context.Context, t APIToken, hash string) (APIToken, error)
	// RevokeAPIToken revokes a token of one of the shop's staff.
	RevokeAPIToken(ctx context.Context, shopID, tokenID int64, at time.Time) error
	// UseAPIToken returns the unrevoked token with hash and its staff
	// member, and records its use at now.
	UseAPIToken(ctx context.Context, hash string, now time.Time) (APIToken, Staff, error)
	// APITokens lists a staff member's tokens, newest first.
	APITokens(ctx context.Context, staffID int64) ([]APIToken, error)
	// StaffList lists a shop's staff, disabled ones included, by email.
	StaffList(ctx context.Context, shopID int64) ([]Staff, error)
	// DisableStaff disables a staff member of the shop and ends their
	// sessions; their API tokens stop working with them.
	DisableStaff(ctx context.Context, shopID, staffID int64, at time.Time) error
	StaffByID(ctx context.Context, shopID, staffID int64) (Staff, error)
	// SetStaffRole changes a role, refusing (EConflict) to leave the shop
	// without an active owner.
	SetStaffRole(ctx context.Context, shopID, staffID int64, role Role) error
	SetPassword(ctx context.Context, shopID, staffID int64, hash string) error
}

// WithPasswordHasher sets how passwords are hashed; staff sign-in needs one.
func (s *Service) WithPasswordHasher(h PasswordHasher) *Service {
	s.passwords = h
	return s
}

func (s *Service) hasher() (PasswordHasher, error) {
	if s.passwords == nil {
		return nil, Errorf(EInternal, "no password hasher configured")
	}
	return s.passwords, nil
}

// NormalizeEmail trims and lower-cases an email address: emails are
// compared without regard to case.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// AddStaff creates a staff member of shop; actor says who did it, for the
// audit log ("cli" for the first owner).
func (s *Service) AddStaff(ctx context.Context, shop Shop, actor, email, name string, role Role, password string) (Staff, error) {
	email, name = NormalizeEmail(email), strings.TrimSpace(name)
	switch {
	case !strings.Contains(email, "@") || strings.ContainsAny(email, " \t\r\n"):
		return Staff{}, Errorf(EInvalid, "%q is not an email address", email)
	case name == "":
		return Staff{}, Errorf(EInvalid, "a staff member needs a name")
	case !role.Valid():
		return Staff{}, Errorf(EInvalid, "role must be owner, admin or support, not %q", role)
	case len([]rune(password)) < MinPasswordLength:
		return Staff{}, Errorf(EInvalid, "a password needs at least %d characters", MinPasswordLength)
	}
	h, err := s.hasher()
	if err != nil {
		return Staff{}, err
	}
	hash, err := h.Hash(password)
	if err != nil {
		return Staff{}, err
	}
	m, err := s.store.CreateStaff(ctx, Staff{ShopID: shop.ID, Email: email, Name: name, Role: role, PasswordHash: hash})
	if ErrorCode(err) == EConflict {
		return Staff{}, Errorf(EConflict, "%s is already staff of %s", email, shop.Domain)
	}
	if err != nil {
		return Staff{}, err
	}
	return m, s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: actor,
		Action: "staff add", Outcome: AuditOK, Detail: email + " as " + string(role)})
}

// SignIn checks a staff member's email and password. Wrong answers all
// look alike (ErrBadCredentials) and take as long, whether or not the
// email is known; a locked account answers ErrLockedOut.
func (s *Service) SignIn(ctx context.Context, shop Shop, email, password string) (Staff, error) {
	h, err := s.hasher()
	if err != nil {
		return Staff{}, err
	}
	email = NormalizeEmail(email)
	m, err := s.store.StaffByEmail(ctx, shop.ID, email)
	if ErrorCode(err) == ENotFound || (err == nil && !m.DisabledAt.IsZero()) {
		// Spend the time a real check takes, so the answer's delay does
		// not tell who has an account.
		h.Compare(s.decoyHash(h), password)
		s.auditSignIn(ctx, shop, email, AuditRefused, "unknown or disabled account")
		return Staff{}, ErrBadCredentials
	}
	if err != nil {
		return Staff{}, err
	}
	now := s.now()
	if m.LockedUntil.After(now) {
		h.Compare(s.decoyHash(h), password) // as slow as any other answer
		s.auditSignIn(ctx, shop, email, AuditRefused, "account locked")
		return Staff{}, ErrLockedOut
	}
	if h.Compare(m.PasswordHash, password) != nil {
		m, err = s.store.FailedLogin(ctx, m.ID, MaxFailedLogins, now.Add(LockoutPeriod))
		if err != nil {
			return Staff{}, err
		}
		if m.LockedUntil.After(now) {
			s.auditSignIn(ctx, shop, email, AuditRefused, "wrong password; account locked")
			return Staff{}, ErrLockedOut
		}
		s.auditSignIn(ctx, shop, email, AuditRefused, "wrong password")
		return Staff{}, ErrBadCredentials
	}
	if err := s.store.SucceededLogin(ctx, m.ID); err != nil {
		return Staff{}, err
	}
	m.FailedLogins = 0
	s.auditSignIn(ctx, shop, email, AuditOK, "")
	return m, nil
}

func (s *Service) auditSignIn(ctx context.Context, shop Shop, email, outcome, detail string) {
	if shop.ID == 0 {
		return // no such shop: nothing of anyone's to record
	}
	// Best effort: a failed audit write must not turn a refusal into a
	// different answer.
	s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: email,
		Action: "staff sign-in", Outcome: outcome, Detail: detail})
}

// decoyHash is a hash of a random password, made once.
func (s *Service) decoyHash(h PasswordHasher) string {
	s.decoyOnce.Do(func() { s.decoy, _ = h.Hash(randomToken()) })
	return s.decoy
}

// NewSession signs m in: it returns the session and the token for its
// cookie, which is not stored.
func (s *Service) NewSession(ctx context.Context, m Staff) (StaffSession, string, error) {
	token := randomToken()
	now := s.now()
	sess := StaffSession{ID: HashToken(token), StaffID: m.ID, CSRF: randomToken(), CreatedAt: now,
		ExpiresAt: now.Add(SessionIdle), LastSeenAt: now}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return StaffSession{}, "", err
	}
	return sess, token, nil
}

// SessionByToken returns the live session of a cookie's token with its
// staff member and shop, and extends it by SessionIdle.
func (s *Service) SessionByToken(ctx context.Context, token string) (StaffSession, Staff, Shop, error) {
	if token == "" {
		return StaffSession{}, Staff{}, Shop{}, ErrUnauthenticated
	}
	now := s.now()
	sess, m, err := s.store.TouchSession(ctx, HashToken(token), now, now.Add(SessionIdle))
	if ErrorCode(err) == ENotFound || (err == nil && !m.DisabledAt.IsZero()) {
		return StaffSession{}, Staff{}, Shop{}, ErrUnauthenticated
	}
	if err != nil {
		return StaffSession{}, Staff{}, Shop{}, err
	}
	shop, err := s.store.ShopByID(ctx, m.ShopID)
	if err != nil {
		return StaffSession{}, Staff{}, Shop{}, err
	}
	return sess, m, shop, nil
}

// EndSession signs a session's browser out.
func (s *Service) EndSession(ctx context.Context, token string) error {
	return s.store.DeleteSession(ctx, HashToken(token))
}

// CreateAPIToken makes an API token for m. The token is returned this once
// and never again.
func (s *Service) CreateAPIToken(ctx context.Context, shop Shop, m Staff, name string) (APIToken, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return APIToken{}, "", Errorf(EInvalid, "an API token needs a name")
	}
	if m.ShopID != shop.ID {
		return APIToken{}, "", Errorf(EForbidden, "%s is not staff of %s", m.Email, shop.Domain)
	}
	token := APITokenPrefix + randomToken()
	t, err := s.store.CreateAPIToken(ctx, APIToken{StaffID: m.ID, Name: name, Prefix: token[:len(APITokenPrefix)+6]}, HashToken(token))
	if err != nil {
		return APIToken{}, "", err
	}
	return t, token, s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: m.Email,
		Action: "api token create", Outcome: AuditOK, Detail: name + " (" + t.Prefix + "…)"})
}

// RevokeAPIToken revokes one of the shop's API tokens; actor is who did it.
func (s *Service) RevokeAPIToken(ctx context.Context, shop Shop, actor string, tokenID int64) error {
	if err := s.store.RevokeAPIToken(ctx, shop.ID, tokenID, s.now()); err != nil {
		return err
	}
	return s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: actor,
		Action: "api token revoke", Outcome: AuditOK, Detail: "token " + strconv.FormatInt(tokenID, 10)})
}

// AuthenticateAPIToken returns the staff member and shop of a bearer
// token; unknown and revoked tokens are ErrUnauthenticated.
func (s *Service) AuthenticateAPIToken(ctx context.Context, token string) (Staff, Shop, error) {
	if !strings.HasPrefix(token, APITokenPrefix) {
		return Staff{}, Shop{}, ErrUnauthenticated
	}
	_, m, err := s.store.UseAPIToken(ctx, HashToken(token), s.now())
	if ErrorCode(err) == ENotFound || (err == nil && !m.DisabledAt.IsZero()) {
		return Staff{}, Shop{}, ErrUnauthenticated
	}
	if err != nil {
		return Staff{}, Shop{}, err
	}
	shop, err := s.store.ShopByID(ctx, m.ShopID)
	if err != nil {
		return Staff{}, Shop{}, err
	}
	return m, shop, nil
}

// StaffByEmail returns a staff member of shop.
func (s *Service) StaffByEmail(ctx context.Context, shop Shop, email string) (Staff, error) {
	return s.store.StaffByEmail(ctx, shop.ID, NormalizeEmail(email))
}

// APITokens lists a staff member's API tokens, newest first.
func (s *Service) APITokens(ctx context.Context, m Staff) ([]APIToken, error) {
	return s.store.APITokens(ctx, m.ID)
}

// RevokeOwnAPIToken revokes one of m's tokens; those who manage staff may
// revoke any token of the shop.
func (s *Service) RevokeOwnAPIToken(ctx context.Context, shop Shop, m Staff, tokenID int64) error {
	if !m.Can(ManageStaff) {
		own, err := s.store.APITokens(ctx, m.ID)
		if err != nil {
			return err
		}
		found := false
		for _, t := range own {
			found = found || t.ID == tokenID
		}
		if !found {
			return Errorf(ENotFound, "no API token %d of yours", tokenID)
		}
	}
	return s.RevokeAPIToken(ctx, shop, m.Email, tokenID)
}

// StaffList lists a shop's staff by email.
func (s *Service) StaffList(ctx context.Context, shop Shop) ([]Staff, error) {
	return s.store.StaffList(ctx, shop.ID)
}

// DisableStaff takes a staff member's access away for good: they can no
// longer sign in, their sessions end and their API tokens stop working.
// Their name stays in the audit log and the ledger.
func (s *Service) DisableStaff(ctx context.Context, shop Shop, actor, email string) error {
	m, err := s.store.StaffByEmail(ctx, shop.ID, NormalizeEmail(email))
	if err != nil {
		return err
	}
	if err := s.store.DisableStaff(ctx, shop.ID, m.ID, s.now()); err != nil {
		return err
	}
	return s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: actor,
		Action: "staff disable", Outcome: AuditOK, Detail: m.Email})
}

// HashToken is how session and API tokens are stored: SHA-256, hex. The
// tokens are random, so a fast hash is enough.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomToken returns 32 random bytes, URL-safe base64.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// AddStaffAs is AddStaff from the console: actor, who manages staff, adds
// a colleague. Only an owner makes another owner.
func (s *Service) AddStaffAs(ctx context.Context, shop Shop, actor Staff, email, name string, role Role, password string) (Staff, error) {
	if err := mayManage(shop, actor, role); err != nil {
		return Staff{}, err
	}
	return s.AddStaff(ctx, shop, StaffLabel(actor), email, name, role, password)
}

// mayManage refuses actor who does not manage the shop's staff, or who
// is not an owner and touches the owner role.
func mayManage(shop Shop, actor Staff, role Role) error {
	switch {
	case !actor.Can(ManageStaff) || actor.ShopID != shop.ID:
		return Errorf(EForbidden, "your role (%s) may not manage staff", actor.Role)
	case role == RoleOwner && actor.Role != RoleOwner:
		return Errorf(EForbidden, "only an owner may make someone an owner or change an owner's access")
	}
	return nil
}

// SetStaffRole changes a colleague's role. Owners alone touch owners, and
// a shop always keeps an owner.
func (s *Service) SetStaffRole(ctx context.Context, shop Shop, actor Staff, staffID int64, role Role) error {
	if !role.Valid() {
		return Errorf(EInvalid, "role must be owner, admin or support, not %q", role)
	}
	m, err := s.store.StaffByID(ctx, shop.ID, staffID)
	if err != nil {
		return err
	}
	if err := mayManage(shop, actor, m.Role); err != nil {
		return err
	}
	if err := mayManage(shop, actor, role); err != nil {
		return err
	}
	if m.Role == role {
		return nil
	}
	if err := s.store.SetStaffRole(ctx, shop.ID, staffID, role); err != nil {
		return err
	}
	return s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: StaffLabel(actor),
		Action: "staff role", Outcome: AuditOK, Detail: m.Email + ": " + string(m.Role) + " → " + string(role)})
}

// DisableStaffByID is DisableStaff from the console: never oneself (ask a
// colleague), never the last owner.
func (s *Service) DisableStaffByID(ctx context.Context, shop Shop, actor Staff, staffID int64) error {
	m, err := s.store.StaffByID(ctx, shop.ID, staffID)
	if err != nil {
		return err
	}
	if err := mayManage(shop, actor, m.Role); err != nil {
		return err
	}
	if m.ID == actor.ID {
		return Errorf(EInvalid, "you cannot disable your own account: ask another owner or admin")
	}
	if !m.DisabledAt.IsZero() {
		return nil
	}
	if err := s.store.DisableStaff(ctx, shop.ID, m.ID, s.now()); err != nil {
		return err
	}
	return s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: StaffLabel(actor),
		Action: "staff disable", Outcome: AuditOK, Detail: m.Email})
}

// ChangePassword sets m's new password after checking the current one.
func (s *Service) ChangePassword(ctx context.Context, shop Shop, m Staff, current, next string) error {
	h, err := s.hasher()
	if err != nil {
		return err
	}
	stored, err := s.store.StaffByID(ctx, shop.ID, m.ID)
	if err != nil {
		return err
	}
	if h.Compare(stored.PasswordHash, current) != nil {
		s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: StaffLabel(m),
			Action: "password change", Outcome: AuditRefused, Detail: "wrong current password"})
		return Errorf(EForbidden, "the current password is wrong")
	}
	switch {
	case len([]rune(next)) < MinPasswordLength:
		return Errorf(EInvalid, "a password needs at least %d characters", MinPasswordLength)
	case next == current:
		return Errorf(EInvalid, "the new password must differ from the current one")
	}
	hash, err := h.Hash(next)
	if err != nil {
		return err
	}
	if err := s.store.SetPassword(ctx, shop.ID, m.ID, hash); err != nil {
		return err
	}
	return s.store.Audit(ctx, AuditEntry{ShopID: shop.ID, ShopDomain: shop.Domain, Actor: StaffLabel(m),
		Action: "password change", Outcome: AuditOK})
}
