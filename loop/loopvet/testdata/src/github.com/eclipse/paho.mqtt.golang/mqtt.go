// Package mqtt is a stub of github.com/eclipse/paho.mqtt.golang.
package mqtt

import "time"

type Message interface{ Payload() []byte }

type Token interface {
	Wait() bool
	WaitTimeout(time.Duration) bool
	Done() <-chan struct{}
	Error() error
}

type MessageHandler func(Client, Message)
type OnConnectHandler func(Client)

type Client interface {
	Publish(topic string, qos byte, retained bool, payload any) Token
	Subscribe(topic string, qos byte, callback MessageHandler) Token
}

type ClientOptions struct{}

func NewClientOptions() *ClientOptions                                         { return &ClientOptions{} }
func (o *ClientOptions) SetOnConnectHandler(h OnConnectHandler) *ClientOptions { return o }
