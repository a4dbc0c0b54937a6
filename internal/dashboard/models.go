package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

type modelsView struct {
	Project  string
	UseCases []useCaseRow
	// Missing lists the API key secrets the defaults need and the project
	// lacks.
	Missing []missingKey
	CanSet  bool
	Error   string
}

type useCaseRow struct {
	UseCase  string
	Provider string
	Model    string
	Default  *store.ModelDefault
	// Providers are the choices: those pgsecrets knows the API key of,
	// and the one set if it is another (a local model server, say).
	Providers []string
}

// withProviders fills the row's choices.
func (r *useCaseRow) withProviders() {
	r.Providers = catalog.KnownProviders()
	if r.Provider != "" && !slices.Contains(r.Providers, r.Provider) {
		r.Providers = append(r.Providers, r.Provider)
	}
}

type missingKey struct {
	Provider string
	Secret   string
	UseCases []string
}

func (s *Server) modelsPage(rq *request) {
	projects, ok := s.pickProject(rq)
	if !ok {
		return
	}
	v, err := s.modelsView(rq)
	if err != nil {
		s.failed(rq, "read model defaults", err)
		return
	}
	p := s.pageFor(rq, "Model defaults", "models")
	p.Projects = projects
	if rq.URL.Query().Get("done") == "saved" {
		p.Notice = "Saved the model defaults."
	}
	s.render(rq.w, rq.Request, http.StatusOK, "models", p, v)
}

// modelsView reads a project's defaults and which API keys they lack,
// as `pgsecrets model-defaults set` and Terraform warn.
func (s *Server) modelsView(rq *request) (modelsView, error) {
	v := modelsView{Project: rq.project, CanSet: may(rq.account, permSetModelDefaults, rq.project)}
	if rq.project == "" {
		return v, nil
	}
	defs, err := rq.st.GetModelDefaults(rq.Context(), rq.project)
	if err != nil {
		return v, err
	}
	for _, uc := range store.UseCases {
		row := useCaseRow{UseCase: uc}
		for i := range defs {
			if defs[i].UseCase == uc {
				row.Default, row.Provider, row.Model = &defs[i], defs[i].Provider, defs[i].Model
			}
		}
		row.withProviders()
		v.UseCases = append(v.UseCases, row)
	}
	for _, row := range v.UseCases {
		name, ok := catalog.APIKeySecretName(row.Provider)
		if row.Default == nil || !ok {
			continue
		}
		if i := slices.IndexFunc(v.Missing, func(m missingKey) bool { return m.Secret == name }); i >= 0 {
			v.Missing[i].UseCases = append(v.Missing[i].UseCases, row.UseCase)
			continue
		}
		_, err := rq.st.GetSecretMeta(rq.Context(), rq.project, name)
		if errors.Is(err, store.ErrNotFound) {
			v.Missing = append(v.Missing, missingKey{Provider: row.Provider, Secret: name, UseCases: []string{row.UseCase}})
		} else if err != nil {
			return v, err
		}
	}
	return v, nil
}

// saveModelDefaults sets the use cases given a provider and a model, and
// removes those left empty, in one audited transaction.
func (s *Server) saveModelDefaults(rq *request) {
	var (
		set    []store.ModelDefault
		remove []string
		errs   []string
	)
	for _, uc := range store.UseCases {
		provider := strings.TrimSpace(rq.PostFormValue(uc + "_provider"))
		model := strings.TrimSpace(rq.PostFormValue(uc + "_model"))
		switch {
		case provider == "" && model == "":
			remove = append(remove, uc)
		case provider == "" || model == "":
			errs = append(errs, fmt.Sprintf("%s needs both a provider and a model (or neither, to remove it)", uc))
		default:
			set = append(set, store.ModelDefault{UseCase: uc, Provider: provider, Model: model})
		}
	}
	if len(errs) > 0 {
		v, err := s.modelsView(rq)
		if err != nil {
			s.failed(rq, "read model defaults", err)
			return
		}
		for i := range v.UseCases {
			v.UseCases[i].Provider = rq.PostFormValue(v.UseCases[i].UseCase + "_provider")
			v.UseCases[i].Model = rq.PostFormValue(v.UseCases[i].UseCase + "_model")
			v.UseCases[i].withProviders()
		}
		v.Error = upperFirst(strings.Join(errs, "; ")) + ". Nothing was saved."
		s.renderPage(rq, http.StatusUnprocessableEntity, "models", "Model defaults", "models", v)
		return
	}
	if _, err := rq.st.PatchModelDefaults(rq.Context(), rq.project, set, remove); err != nil {
		s.storeError(rq, "save model defaults", err)
		return
	}
	http.Redirect(rq.w, rq.Request, "/models?"+url.Values{"project": {rq.project}, "done": {"saved"}}.Encode(), http.StatusSeeOther)
}
