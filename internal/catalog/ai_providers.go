package catalog

import (
	"maps"
	"slices"
	"strings"
)

// apiKeySecretNames maps an AI provider, as named in model defaults, to
// the secret name its SDKs read the API key from by convention.
var apiKeySecretNames = map[string]string{
	"anthropic":  "ANTHROPIC_API_KEY",
	"openai":     "OPENAI_API_KEY",
	"google":     "GOOGLE_AI_API_KEY",
	"gemini":     "GOOGLE_AI_API_KEY",
	"mistral":    "MISTRAL_API_KEY",
	"cohere":     "COHERE_API_KEY",
	"groq":       "GROQ_API_KEY",
	"deepseek":   "DEEPSEEK_API_KEY",
	"xai":        "XAI_API_KEY",
	"perplexity": "PERPLEXITY_API_KEY",
	"together":   "TOGETHER_API_KEY",
	"fireworks":  "FIREWORKS_API_KEY",
	"openrouter": "OPENROUTER_API_KEY",
}

// APIKeySecretName returns the secret a project needs to call provider
// (case-insensitive), and false for providers that need none or that
// pgsecrets does not know (a local model server, say).
func APIKeySecretName(provider string) (string, bool) {
	name, ok := apiKeySecretNames[strings.ToLower(strings.TrimSpace(provider))]
	return name, ok
}

// KnownProviders lists the AI providers pgsecrets knows the API key secret
// of, sorted, for forms that offer a choice.
func KnownProviders() []string {
	return slices.Sorted(maps.Keys(apiKeySecretNames))
}
