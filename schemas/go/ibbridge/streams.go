package ibbridge

import "context"

// Depth asks ib.rpc.depth for the order book of symbol (rows a side; 0 = the stream's own, 10 when
// ib-bridge takes a short lease for it): the book of the depth stream ib-bridge holds, or IB's
// first book of a 10 s lease taken for this request (line_limit past ib.depth_budget).
func (c *Client) Depth(ctx context.Context, symbol string, rows int) (*Depth, error) {
	var d Depth
	err := c.call(ctx, "rpc.depth", depthRequest{Symbol: symbol, Rows: rows}, &d, callOpts{})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

type depthRequest struct {
	Symbol   string        `codec:"symbol,omitempty" json:"symbol,omitempty"`
	Contract *ContractSpec `codec:"contract,omitempty" json:"contract,omitempty"`
	Rows     int           `codec:"rows,omitempty" json:"rows,omitempty"`
}
