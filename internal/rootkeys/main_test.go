package rootkeys_test

import (
	"os"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/softhsmtest"
)

func TestMain(m *testing.M) {
	cleanup := softhsmtest.Setup()
	code := pgtest.Run(m)
	cleanup()
	os.Exit(code)
}
