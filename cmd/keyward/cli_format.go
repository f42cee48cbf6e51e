package main

// This file holds the output formats every client command shares: -o table (the default),
// -o json (the API's own JSON, also spelled --json) and -o yaml (the same document as YAML,
// with the JSON's field names and order).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

var outputFormats = []string{formatTable, formatJSON, formatYAML}

// formatValue is the value of -o: one of outputFormats, checked when the flag is parsed so
// that a typo fails before any request is sent.
type formatValue string

func (v *formatValue) String() string { return string(*v) }
func (v *formatValue) Type() string   { return "format" }
func (v *formatValue) Set(s string) error {
	s = strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(outputFormats, s) {
		return fmt.Errorf("want one of %s", strings.Join(outputFormats, ", "))
	}
	*v = formatValue(s)
	return nil
}

// outputFlag is -o/--output and its older spelling --json.
type outputFlag struct {
	output formatValue
	json   bool
}

// register adds -o and --json to f; what names the machine output ("the API's JSON" when
// empty).
func (o *outputFlag) register(f *pflag.FlagSet, what string) {
	if what == "" {
		what = "the API's JSON"
	}
	f.VarP(&o.output, "output", "o", "output format: table (the default), json ("+what+") or yaml (the same, as YAML)")
	f.BoolVar(&o.json, "json", false, "the same as -o json")
}

// registerOutputCompletion offers the formats for -o.
func registerOutputCompletion(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
}

// format is the output asked for. --json is -o json; -o wins over it when both are given.
func (o *outputFlag) format() string {
	switch {
	case o.output != "":
		return string(o.output)
	case o.json:
		return formatJSON
	}
	return formatTable
}

// machine says the output is for programs: nothing but the document is printed.
func (o *outputFlag) machine() bool { return o.format() != formatTable }

// check refuses --json with another -o, which says two different things.
func (o *outputFlag) check() error {
	if o.json && o.output != "" && o.output != formatJSON {
		return fmt.Errorf("--json and -o %s disagree: give one of them", o.output)
	}
	return nil
}

// writeOutput prints v as format asks: JSON, YAML, or as human writes it.
func writeOutput[T any](w io.Writer, format string, v T, human func(io.Writer, T) error) error {
	switch format {
	case formatJSON:
		return writeAPIJSON(w, v)
	case formatYAML:
		return writeYAML(w, v)
	}
	return human(w, v)
}

// writeYAML writes v as YAML. It goes through v's JSON, so that the field names, the order
// of the fields and what is left out are those of -o json, and numbers keep their digits.
func writeYAML(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	node, err := jsonToYAML(dec)
	if err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return err
	}
	return enc.Close()
}

// jsonToYAML reads one JSON value from dec as a YAML node, keeping the order of object
// fields (a map would sort them).
func jsonToYAML(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		node := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if t == '{' {
			node.Kind, node.Tag = yaml.MappingNode, "!!map"
		}
		for dec.More() {
			if t == '{' {
				key, err := dec.Token()
				if err != nil {
					return nil, err
				}
				node.Content = append(node.Content, yamlString(key.(string)))
			}
			child, err := jsonToYAML(dec)
			if err != nil {
				return nil, err
			}
			node.Content = append(node.Content, child)
		}
		if _, err := dec.Token(); err != nil { // the closing } or ]
			return nil, err
		}
		if len(node.Content) == 0 {
			node.Style = yaml.FlowStyle // [] and {}, not an empty document
		}
		return node, nil
	case string:
		return yamlString(t), nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(t), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(t)}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(t)}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, errors.New("unexpected JSON token")
}

// yamlString is s as a YAML string, quoted where a YAML 1.1 reader would take it for
// something else ("yes", "on", "n", "1e3"), as the library quotes a Go string.
func yamlString(s string) *yaml.Node {
	n := &yaml.Node{}
	if err := n.Encode(s); err != nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
	}
	return n
}
