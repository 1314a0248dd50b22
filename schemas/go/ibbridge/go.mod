module ib-bridge/schemas/go/ibbridge

go 1.19

require (
	github.com/nats-io/nats.go v1.22.1
	github.com/ugorji/go/codec v1.2.8
)
