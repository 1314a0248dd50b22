package ibbridge

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// codecFields returns a struct's wire names (codec tags; embedded structs flattened).
func codecFields(t reflect.Type) map[string]reflect.Type {
	for t.Kind() == reflect.Ptr || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("codec"), ",")[0]
		if f.Anonymous && name == "" {
			for k, v := range codecFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		if js := strings.Split(f.Tag.Get("json"), ",")[0]; js != name {
			panic(t.Name() + "." + f.Name + ": codec tag " + name + " vs json tag " + js)
		}
		out[name] = f.Type
	}
	return out
}

type schemaDoc map[string]interface{}

var schemaCache = map[string]schemaDoc{}

func loadSchema(t *testing.T, file string) schemaDoc {
	if s, ok := schemaCache[file]; ok {
		return s
	}
	b, err := os.ReadFile(filepath.Join("..", "..", file))
	if err != nil {
		t.Fatal(err)
	}
	var s schemaDoc
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	schemaCache[file] = s
	return s
}

// props returns the property names of the schema object at file#pointer, following $ref and allOf.
func props(t *testing.T, file, pointer string) map[string]bool {
	node := interface{}(map[string]interface{}(loadSchema(t, file)))
	for _, p := range strings.Split(strings.Trim(pointer, "/"), "/") {
		if p == "" {
			continue
		}
		switch n := node.(type) {
		case map[string]interface{}:
			node = n[p]
		case []interface{}:
			node = n[0]
		}
	}
	out := map[string]bool{}
	var walk func(file string, n map[string]interface{})
	walk = func(file string, n map[string]interface{}) {
		if ref, ok := n["$ref"].(string); ok {
			f, ptr := file, ""
			if i := strings.Index(ref, "#"); i >= 0 {
				f, ptr = ref[:i], ref[i+1:]
				if f == "" {
					f = file
				}
			} else {
				f = ref
			}
			for k := range props(t, f, ptr) {
				out[k] = true
			}
		}
		if all, ok := n["allOf"].([]interface{}); ok {
			for _, a := range all {
				walk(file, a.(map[string]interface{}))
			}
		}
		if ps, ok := n["properties"].(map[string]interface{}); ok {
			for k := range ps {
				out[k] = true
			}
		}
	}
	if m, ok := node.(map[string]interface{}); ok {
		walk(file, m)
	}
	return out
}

// Every property of every schema has a field in its Go type, and every field of a reply or event
// type is in its schema (bar the fields named as extras: BRIEF wave 2 additions, the reply-only
// source of a quote event).
func TestTypesCoverSchemas(t *testing.T) {
	cases := []struct {
		file, pointer string
		v             interface{}
		extra         string // Go fields not (yet) in the schema
		reqOnly       bool   // a request type (informational: requests must cover the schema too)
	}{
		{"contract.json", "", Contract{}, "", false},
		{"quote_event.json", "", Quote{}, "greeks source", false},
		{"quote_reply.json", "", Quote{}, "greeks", false},
		{"quote_reply.json", "/properties/status", InstrumentStatus{}, "", false},
		{"quote_request.json", "", QuoteRequest{}, "", true},
		{"candles_request.json", "", CandlesRequest{}, "", true},
		{"candles_reply.json", "", CandlesReply{}, "", false},
		{"candles_reply.json", "/properties/bars/items", Candle{}, "", false},
		{"contract_request.json", "", ContractRequest{}, "", true},
		{"contract_request.json", "/properties/contract", ContractSpec{}, "", true},
		{"subscribe_request.json", "/properties/contracts/items", ContractSpec{}, "", true},
		{"contract_reply.json", "", ContractReply{}, "", false},
		{"contract_reply.json", "/properties/contracts/items", ContractDetails{}, "", false},
		{"positions_request.json", "", AccountFilter{}, "", true},
		{"account_request.json", "", AccountFilter{}, "", true},
		{"positions_reply.json", "", PositionsReply{}, "", false},
		{"positions_reply.json", "/properties/positions/items", Position{}, "", false},
		{"account_reply.json", "", AccountReply{}, "", false},
		{"account_reply.json", "/properties/accounts/items", AccountSummary{}, "", false},
		{"account_reply.json", "/properties/accounts/items/properties/values/additionalProperties", AccountValue{}, "", false},
		{"status_reply.json", "", Status{}, "", false},
		{"status_reply.json", "/properties/ib", IBLink{}, "", false},
		{"status_reply.json", "/properties/ib/properties/stats", IBStats{}, "", false},
		{"status_reply.json", "/properties/nats", Status{}.NATS, "", false},
		{"status_reply.json", "/properties/market_data", Status{}.MarketData, "", false},
		{"status_reply.json", "/properties/pacing", Status{}.Pacing, "", false},
		{"status_reply.json", "/properties/orders", OrdersStatus{}, "", false},
		{"status_reply.json", "/properties/market_data/properties/lease_list/items", LeaseInfo{}, "", false},
		{"status_reply.json", "/properties/orders/properties/store_backlog", OrdersStatus{}.StoreBacklog, "", false},
		{"order_list_reply.json", "/$defs/order", Order{}, "", false},
		{"order_list_reply.json", "", OrderList{}, "", false},
		{"order_list_reply.json", "/properties/orders/items", Order{}, "", false},
		{"order_cancel_reply.json", "", Order{}, "", false},
		{"order_modify_reply.json", "", Order{}, "", false},
		{"order_event.json", "", OrderEvent{}, "", false},
		{"order_event.json", "/properties/fill", Fill{}, "", false},
		{"order_event.json", "/properties/commission", Commission{}, "", false},
		{"order_event.json", "/properties/error", OrderEventError{}, "", false},
		{"order_place_request.json", "", OrderRequest{}, "", true},
		{"order_place_reply.json", "", OrderPlaced{}, "", false},
		{"order_cancel_request.json", "", OrderRef{}, "", true},
		{"order_modify_request.json", "", ModifyRequest{}, "", true},
		{"order_list_request.json", "", ListOrdersRequest{}, "", true},
		{"conn_event.json", "", ConnEvent{}, "", false},
		{"subscribe_request.json", "", LeaseRequest{}, "", true},
		{"status_reply.json", "/properties/market_data/properties/streams", StreamStats{}, "", false},
		{"depth_event.json", "", Depth{}, "", false},
		{"depth_event.json", "/$defs/side/items", DepthRow{}, "", false},
		{"ticks_event.json", "", Tick{}, "", false},
		{"depth_request.json", "", depthRequest{}, "", true},
		{"bar_event.json", "", Bar{}, "", false},
		{"contract_search_request.json", "", SearchRequest{}, "", true},
		{"contract_search_reply.json", "", SearchReply{}, "", false},
		{"contract_search_reply.json", "/properties/matches/items", ContractMatch{}, "", false},
		{"order_preview_request.json", "", OrderRequest{}, "", true},
		{"order_preview_reply.json", "", OrderPreview{}, "", false},
		{"order_completed_request.json", "", CompletedOrdersRequest{}, "", true},
		{"order_completed_reply.json", "", CompletedOrderList{}, "", false},
		{"order_completed_reply.json", "/properties/orders/items", CompletedOrder{}, "", false},
		{"executions_request.json", "", ExecutionsRequest{}, "", true},
		{"executions_reply.json", "", ExecutionsReply{}, "", false},
		{"executions_reply.json", "/properties/executions/items", Execution{}, "", false},
		{"executions_reply.json", "/properties/executions/items/properties/commission", Commission{}, "", false},
		{"scanner_params_reply.json", "", ScannerParams{}, "", false},
		{"scanner_request.json", "", ScanRequest{}, "", true},
		{"scanner_reply.json", "", ScanReply{}, "", false},
		{"scanner_reply.json", "/properties/rows/items", ScanRow{}, "", false},
		{"pnl_event.json", "", PnL{}, "seq", false},
		{"pnl_request.json", "", AccountFilter{}, "", true},
		{"pnl_reply.json", "", PnLReply{}, "", false},
		{"subscribe_reply.json", "", Lease{}, "", false},
		{"subscribe_reply.json", "/properties/instruments/items", LeasedInstrument{}, "", false},
		{"unsubscribe_request.json", "", unsubscribeRequest{}, "", true},
		{"unsubscribe_reply.json", "", LeaseEnded{}, "", false},
		{"error.json", "/properties/error", errorBody{}.Error, "", false},
	}
	for _, tc := range cases {
		name := tc.file + "#" + tc.pointer
		ps := props(t, tc.file, tc.pointer)
		if len(ps) == 0 {
			t.Errorf("%s: no properties found", name)
			continue
		}
		fs := codecFields(reflect.TypeOf(tc.v))
		var missing, extra []string
		for p := range ps {
			if _, ok := fs[p]; !ok {
				missing = append(missing, p)
			}
		}
		allowed := map[string]bool{}
		for _, x := range strings.Fields(tc.extra) {
			allowed[x] = true
		}
		for f := range fs {
			if !ps[f] && !allowed[f] {
				extra = append(extra, f)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing) > 0 {
			t.Errorf("%s: %T lacks %v", name, tc.v, missing)
		}
		if len(extra) > 0 {
			t.Errorf("%s: %T has fields the schema lacks: %v", name, tc.v, extra)
		}
	}
}
