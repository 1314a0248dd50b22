package ibbridge

import (
	"context"
)

// Provider is the market-data provider shape of the old Python bridge's Go library: code written
// against it keeps working when its constructor becomes NewProvider(client). See the package
// documentation for the mapping.
type Provider interface {
	// GetQuote returns the latest quote of symbol (ib.rpc.quote).
	GetQuote(ctx context.Context, symbol string) (*Quote, error)
	// GetCandles returns historical bars (ib.rpc.candles); empty duration / barSize take the bus
	// defaults (1 D, 5 mins).
	GetCandles(ctx context.Context, symbol, duration, barSize string) ([]Candle, error)
	// Subscribe streams quotes of symbols until ctx ends; the channel is closed then. Lease
	// renewal, re-leasing and gap filling happen underneath (Client.Subscribe).
	Subscribe(ctx context.Context, symbols ...string) (<-chan *Quote, error)
}

type provider struct{ c *Client }

// NewProvider returns the Provider on top of c.
func NewProvider(c *Client) Provider { return provider{c} }

func (p provider) GetQuote(ctx context.Context, symbol string) (*Quote, error) {
	return p.c.Quote(ctx, symbol)
}

func (p provider) GetCandles(ctx context.Context, symbol, duration, barSize string) ([]Candle, error) {
	r, err := p.c.Candles(ctx, CandlesRequest{Symbol: symbol, Duration: duration, BarSize: barSize})
	if err != nil {
		return nil, err
	}
	return r.Bars, nil
}

func (p provider) Subscribe(ctx context.Context, symbols ...string) (<-chan *Quote, error) {
	sub, err := p.c.Subscribe(ctx, KindQuote, symbols...)
	if err != nil {
		return nil, err
	}
	out := make(chan *Quote, cap(sub.ch))
	go func() {
		defer close(out)
		defer sub.Close()
		for {
			select {
			case ev, ok := <-sub.C:
				if !ok {
					return
				}
				select {
				case out <- ev.Quote:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
