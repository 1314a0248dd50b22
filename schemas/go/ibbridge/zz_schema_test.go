package ibbridge

import "testing"

// Last of the tests (files run in name order): every request body the earlier tests sent, in both
// encodings, validates against schemas/.
func TestZZRequestsMatchSchemas(t *testing.T) { checkRequestsAgainstSchemas(t) }
