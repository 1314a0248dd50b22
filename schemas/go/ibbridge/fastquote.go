package ibbridge

import (
	"math"
)

// A decoder for the one hot message, the MessagePack quote event, without reflection: it fills one
// allocation (the Event, its Quote and the prices they point to) and reuses the strings of the
// previous event of the same key when the bytes are the same (the contract never changes). It
// handles exactly the shapes ib-bridge sends; on anything else (an unknown key, a status object,
// an unexpected type) it reports false and the caller decodes with the general decoder, which also
// applies WithStrictDecoding. TestFastQuoteMatchesCodec checks it against the general decoder on
// real traffic.

type quoteBox struct {
	ev Event
	q  Quote
	f  [11]float64
	h  bool
}

type mpReader struct {
	b []byte
	i int
}

func (r *mpReader) byte1() (byte, bool) {
	if r.i >= len(r.b) {
		return 0, false
	}
	c := r.b[r.i]
	r.i++
	return c, true
}

func (r *mpReader) be(n int) (uint64, bool) {
	if r.i+n > len(r.b) {
		return 0, false
	}
	var v uint64
	for _, c := range r.b[r.i : r.i+n] {
		v = v<<8 | uint64(c)
	}
	r.i += n
	return v, true
}

func (r *mpReader) mapLen() (int, bool) {
	c, ok := r.byte1()
	if !ok {
		return 0, false
	}
	switch {
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f), true
	case c == 0xde:
		n, ok := r.be(2)
		return int(n), ok
	}
	return 0, false
}

func (r *mpReader) str() ([]byte, bool) {
	c, ok := r.byte1()
	if !ok {
		return nil, false
	}
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == 0xd9:
		n, ok = r.be(1)
	case c == 0xda:
		n, ok = r.be(2)
	default:
		return nil, false
	}
	if !ok || r.i+int(n) > len(r.b) {
		return nil, false
	}
	s := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return s, true
}

// num reads any MessagePack number as a float64.
func (r *mpReader) num() (float64, bool) {
	c, ok := r.byte1()
	if !ok {
		return 0, false
	}
	switch {
	case c <= 0x7f:
		return float64(c), true
	case c >= 0xe0:
		return float64(int8(c)), true
	}
	switch c {
	case 0xca:
		v, ok := r.be(4)
		return float64(math.Float32frombits(uint32(v))), ok
	case 0xcb:
		v, ok := r.be(8)
		return math.Float64frombits(v), ok
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, ok := r.be(1 << (c - 0xcc))
		return float64(v), ok
	case 0xd0, 0xd1, 0xd2, 0xd3:
		n := 1 << (c - 0xd0)
		v, ok := r.be(n)
		shift := uint(64 - 8*n)
		return float64(int64(v<<shift) >> shift), ok
	}
	return 0, false
}

// integer reads a MessagePack integer.
func (r *mpReader) integer() (int64, bool) {
	c, ok := r.byte1()
	if !ok {
		return 0, false
	}
	switch {
	case c <= 0x7f:
		return int64(c), true
	case c >= 0xe0:
		return int64(int8(c)), true
	}
	switch c {
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, ok := r.be(1 << (c - 0xcc))
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), ok
	case 0xd0, 0xd1, 0xd2, 0xd3:
		n := 1 << (c - 0xd0)
		v, ok := r.be(n)
		shift := uint(64 - 8*n)
		return int64(v<<shift) >> shift, ok
	}
	return 0, false
}

// strCache keeps the strings of the previous event of one key.
type strCache map[string]string

func (sc strCache) get(field string, b []byte) string {
	if s, ok := sc[field]; ok && s == string(b) {
		return s
	}
	s := string(b)
	sc[field] = s
	return s
}

var quotePrices = map[string]int{"bid": 0, "ask": 1, "last": 2, "bid_size": 3, "ask_size": 4, "last_size": 5,
	"volume": 6, "open": 7, "high": 8, "low": 9, "close": 10}

func (b *quoteBox) price(i int) **float64 {
	q := &b.q
	switch i {
	case 0:
		return &q.Bid
	case 1:
		return &q.Ask
	case 2:
		return &q.Last
	case 3:
		return &q.BidSize
	case 4:
		return &q.AskSize
	case 5:
		return &q.LastSize
	case 6:
		return &q.Volume
	case 7:
		return &q.Open
	case 8:
		return &q.High
	case 9:
		return &q.Low
	}
	return &q.Close
}

// decodeQuoteFast decodes a MessagePack quote event; false = not a shape it handles.
func decodeQuoteFast(data []byte, sc strCache) (*Event, bool) {
	r := mpReader{b: data}
	n, ok := r.mapLen()
	if !ok {
		return nil, false
	}
	box := &quoteBox{}
	q := &box.q
	for ; n > 0; n-- {
		k, ok := r.str()
		if !ok {
			return nil, false
		}
		if i, isPrice := quotePrices[string(k)]; isPrice {
			v, ok := r.num()
			if !ok {
				return nil, false
			}
			box.f[i] = v
			*box.price(i) = &box.f[i]
			continue
		}
		switch string(k) {
		case "key":
			s, ok := r.str()
			if !ok {
				return nil, false
			}
			q.Key = sc.get("key", s)
		case "seq":
			v, ok := r.integer()
			if !ok || v < 0 {
				return nil, false
			}
			q.Seq = uint64(v)
		case "market_data_type":
			s, ok := r.str()
			if !ok {
				return nil, false
			}
			q.MarketDataType = sc.get("market_data_type", s)
		case "last_trade_ts":
			if q.LastTradeTs, ok = r.integer(); !ok {
				return nil, false
			}
		case "recv_ts_ns":
			if q.RecvTsNs, ok = r.integer(); !ok {
				return nil, false
			}
		case "halted":
			c, ok := r.byte1()
			if !ok || (c != 0xc2 && c != 0xc3) {
				return nil, false
			}
			box.h = c == 0xc3
			q.Halted = &box.h
		case "contract":
			if !decodeContractFast(&r, &q.Contract, sc) {
				return nil, false
			}
		default: // status, greeks, source, anything new: the general decoder
			return nil, false
		}
	}
	if r.i != len(data) {
		return nil, false
	}
	box.ev = Event{Kind: KindQuote, Key: q.Key, Seq: q.Seq, Quote: q}
	return &box.ev, true
}

func decodeContractFast(r *mpReader, c *Contract, sc strCache) bool {
	n, ok := r.mapLen()
	if !ok {
		return false
	}
	for ; n > 0; n-- {
		k, ok := r.str()
		if !ok {
			return false
		}
		var dst *string
		var name string
		switch string(k) {
		case "con_id":
			if c.ConID, ok = r.integer(); !ok {
				return false
			}
			continue
		case "strike":
			if c.Strike, ok = r.num(); !ok {
				return false
			}
			continue
		case "symbol":
			dst, name = &c.Symbol, "c.symbol"
		case "sec_type":
			dst, name = &c.SecType, "c.sec_type"
		case "exchange":
			dst, name = &c.Exchange, "c.exchange"
		case "primary_exchange":
			dst, name = &c.PrimaryExchange, "c.primary_exchange"
		case "currency":
			dst, name = &c.Currency, "c.currency"
		case "local_symbol":
			dst, name = &c.LocalSymbol, "c.local_symbol"
		case "trading_class":
			dst, name = &c.TradingClass, "c.trading_class"
		case "last_trade_date":
			dst, name = &c.LastTradeDate, "c.last_trade_date"
		case "multiplier":
			dst, name = &c.Multiplier, "c.multiplier"
		case "right":
			dst, name = &c.Right, "c.right"
		default:
			return false
		}
		s, ok := r.str()
		if !ok {
			return false
		}
		*dst = sc.get(name, s)
	}
	return true
}
