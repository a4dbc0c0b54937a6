package dashboard

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestBrowserProviderDefaultsSetAndShown(t *testing.T) {
	e := newEnv(t)
	e.put("app", "OPENAI_API_KEY", "sk-proj-1")
	e.account("root@example.com", store.RoleAdmin)
	e.account("v@example.com", store.RoleViewer)
	admin := e.openTab()
	admin.signIn("root@example.com")

	admin.click("#tab-models")
	if admin.path() != "/models?project=app" || admin.value("#chat_provider") != "" {
		t.Fatalf("the providers page:\n%s", admin.where())
	}
	// The provider is chosen among those pgsecrets knows; an unset
	// model's field reads as a hint, not a value.
	if got, want := admin.texts("#chat_provider option"), append([]string{"not set"}, catalog.KnownProviders()...); !slices.Equal(got, want) {
		t.Errorf("provider choices %q, want %q", got, want)
	}
	if got := evalIn[string](admin, `document.querySelector("#chat_model").placeholder`); got != "e.g. claude-sonnet-4-5" {
		t.Errorf("an unset model's placeholder: %q", got)
	}
	if got := evalIn[string](admin, `getComputedStyle(document.querySelector("#chat_model"), "::placeholder").fontStyle`); got != "italic" {
		t.Errorf("the placeholder is styled %q, not as a hint", got)
	}
	if got := admin.text("tr#usecase-chat td:last-child"); got != "not set" {
		t.Errorf("an unset use case says %q", got)
	}
	admin.choose("#chat_provider", "anthropic")
	admin.fill("#chat_model", "claude-sonnet-4-5")
	admin.choose("#code_provider", "openai")
	admin.fill("#code_model", "gpt-4.1")
	admin.choose("#summary_provider", "anthropic")
	if status := admin.click("#save-models"); status != http.StatusUnprocessableEntity {
		t.Fatalf("a provider without a model: status %d", status)
	}
	if got := admin.text("#form-error"); got != "Summary needs both a provider and a model (or neither, to remove it). Nothing was saved." {
		t.Errorf("a provider without a model: %q", got)
	}
	if admin.value("#chat_model") != "claude-sonnet-4-5" {
		t.Error("the refused form lost what was typed")
	}
	admin.fill("#summary_model", "claude-haiku-4-5")
	if status := admin.click("#save-models"); status != http.StatusOK || admin.text("#notice") != "Saved the model defaults." {
		t.Fatalf("save: %d\n%s", status, admin.where())
	}
	for uc, want := range map[string][2]string{"chat": {"anthropic", "claude-sonnet-4-5"}, "code": {"openai", "gpt-4.1"}, "summary": {"anthropic", "claude-haiku-4-5"}} {
		if got := [2]string{admin.value("#" + uc + "_provider"), admin.value("#" + uc + "_model")}; got != want {
			t.Errorf("%s after saving: %v, want %v", uc, got, want)
		}
	}
	// Anthropic's key is missing, OpenAI's is set.
	if got := admin.text(".missing-key#missing-ANTHROPIC_API_KEY"); got != "Project app has no secret ANTHROPIC_API_KEY, the API key provider anthropic needs for chat, summary. Set it" {
		t.Errorf("missing key warning: %q", got)
	}
	if admin.count("#missing-OPENAI_API_KEY") != 0 {
		t.Error("a key that is set is reported missing")
	}

	viewer := e.openTab()
	viewer.signIn("v@example.com")
	viewer.click("#tab-models")
	if viewer.count("form#models-form") != 0 {
		t.Fatal("a viewer gets the form")
	}
	if got := viewer.text("tr#usecase-chat"); !strings.HasPrefix(got, "chat\tanthropic\tclaude-sonnet-4-5\tdashboard:root@example.com") {
		t.Errorf("a viewer sees chat as %q", got)
	}

	defs, err := e.st.GetModelDefaults(context.Background(), "app")
	if err != nil || len(defs) != 3 || defs[0].UpdatedBy != "dashboard:root@example.com" {
		t.Fatalf("stored defaults: %+v, %v", defs, err)
	}
}
