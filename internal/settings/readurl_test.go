package settings_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// A read URL that does not parse is blamed on the setting it came from,
// without its password, before anything connects; a caller that does not
// read through it (UseReadURL false: a write, a --consistent read) never
// looks at it.
func TestReadURLThatDoesNotParseIsBlamedOnItsSettingWithoutThePassword(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	const bad = "postgres://app:hunter2@host:notaport/db"
	for _, tc := range []struct {
		name, explicit, env, want string
	}{
		{name: "setting", explicit: bad, want: "(from --read-url)"},
		{name: "environment", env: bad, want: "(from " + settings.EnvReadURL + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(settings.EnvReadURL, tc.env)
			_, _, err := settings.Open(context.Background(), settings.Explicit{DatabaseURL: nothingListens, ReadURL: tc.explicit, ReadURLSetting: "--read-url", UseReadURL: true})
			var se *settings.SettingError
			if !errors.As(err, &se) || se.Setting != settings.SettingReadURL || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error = %v, want the read URL setting's, naming %s, without the password", err, tc.want)
			}
			_, _, err = settings.Open(context.Background(), settings.Explicit{DatabaseURL: nothingListens, ReadURL: tc.explicit, ReadURLSetting: "--read-url"})
			var ce *settings.ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v without UseReadURL, want the database URL's connection error: the read URL is not used", err)
			}
		})
	}
}
