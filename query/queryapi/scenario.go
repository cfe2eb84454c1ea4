package queryapi

import (
	"errors"
	"fmt"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/scenario"
)

// scenarioMessages are the call's own messages (not its correlated legs,
// each a call of its own) as package scenario reads them.
func (c *Call) scenarioMessages() []scenario.Message {
	out := make([]scenario.Message, 0, len(c.Messages))
	for _, m := range c.Messages {
		if m.Leg != 0 {
			continue
		}
		out = append(out, scenario.Message{Payload: m.Payload, Time: m.CapturedAt, Src: m.Src, Dst: m.Dst,
			Transport: m.Transport, CaptureID: m.CaptureID, NodeName: m.NodeName})
	}
	return out
}

// Scenario writes side's SIPp scenario of the call. Returns an
// Unprocessable error saying why for a flow SIPp cannot replay.
func (c *Call) Scenario(side scenario.Side, opt scenario.Options) (*scenario.Scenario, error) {
	s, err := scenario.Generate(c.scenarioMessages(), side, opt)
	if err != nil {
		return nil, scenarioError(c.CallID, err)
	}
	return s, nil
}

// ScenarioZip packs both sides and a README.txt with the sipp command
// lines. Returns an Unprocessable error as Scenario does.
func (c *Call) ScenarioZip(opt scenario.Options) ([]byte, error) {
	msgs := c.scenarioMessages()
	uac, uas, err := scenario.Pair(msgs, opt)
	if err != nil {
		return nil, scenarioError(c.CallID, err)
	}
	b, err := scenario.Zip(uac, uas, msgs[0].Time)
	if err != nil {
		return nil, fmt.Errorf("queryapi.Call.ScenarioZip: %w", err)
	}
	return b, nil
}

func scenarioError(callID string, err error) error {
	var ue *scenario.UnsupportedError
	if errors.As(err, &ue) {
		return &callscope.Error{Kind: callscope.Unprocessable, Message: ue.Error(), Err: err}
	}
	return fmt.Errorf("queryapi: scenario of %q: %w", callID, err)
}
