package integration

import paho "github.com/eclipse/paho.mqtt.golang"

type (
	pahoClient  = paho.Client
	pahoMessage = paho.Message
)
