package provider

import (
	"os"
	"testing"
)

// With no TF_LOG* variable Terraform drops whatever a provider logs, so
// the SDK's logs are turned off; with any, a user asked for logs and gets
// them as the SDK configures them.
func TestSDKLogsOffOnlyWhenTerraformDiscardsThem(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{env: []string{"HOME=/root", "TF_IN_AUTOMATION=1"}, want: "off"},
		{env: []string{"TF_LOG=trace"}, want: ""},
		{env: []string{"TF_LOG_PROVIDER=debug"}, want: ""},
		{env: []string{"TF_LOG_SDK_FRAMEWORK=trace"}, want: ""},
		{env: []string{"TF_ACC_LOG_PATH=/tmp/acc.log"}, want: ""},
	} {
		for _, name := range sdkLogLevels {
			t.Setenv(name, "")
		}
		quietDiscardedSDKLogs(tc.env)
		for _, name := range sdkLogLevels {
			if got := os.Getenv(name); got != tc.want {
				t.Errorf("environment %v: %s = %q, want %q", tc.env, name, got, tc.want)
			}
		}
	}
}
