package iamcheck

import (
	"slices"
	"strings"
)

// The condition keys the evaluator knows for a call a task role makes on
// AWS, by their lower-case names. A key listed with present false is never
// in such a request; any other key is unknown, and a condition on it may hold.
//
//   - aws:SecureTransport is true: the SDK calls AWS's HTTPS endpoints (the
//     binaries set no endpoint on AWS).
//   - aws:PrincipalArn, aws:PrincipalAccount and aws:PrincipalType are the
//     role's ARN, its account and AssumedRole (ECS gives the task the role's
//     session).
//   - aws:SourceArn, aws:SourceAccount and aws:SourceOwner are absent: AWS sets
//     them when a service principal acts for one of its resources (SNS
//     delivering to a queue), never on a role's own calls.
func (g *Grants) conditionKey(key string) (value string, present, known bool) {
	switch strings.ToLower(key) {
	case "aws:securetransport":
		return "true", true, true
	case "aws:principalarn":
		return g.Principal, true, true
	case "aws:principalaccount":
		return g.Account, true, true
	case "aws:principaltype":
		return "AssumedRole", true, true
	case "aws:sourcearn", "aws:sourceaccount", "aws:sourceowner":
		return "", false, true
	}
	return "", false, false
}

// cannotHold reports whether the evaluator knows that a condition block
// (operator → key → values; every entry must hold) is false for the role's
// calls. It understands the String, Arn, Bool and Null operators, their
// Not and IgnoreCase forms and the IfExists suffix, on the keys of
// conditionKey; anything else (a numeric or date operator, ForAnyValue and
// ForAllValues, another key) may hold, so a Deny with it denies.
func (g *Grants) cannotHold(cond map[string]map[string][]string) bool {
	for op, entries := range cond {
		for key, values := range entries {
			value, present, known := g.conditionKey(key)
			if !known {
				continue
			}
			if holds, understood := evalCondition(op, value, present, values); understood && !holds {
				return true
			}
		}
	}
	return false
}

// evalCondition applies one operator to a key's value (or its absence),
// as IAM's condition operators documentation describes: with the key absent
// a ...IfExists operator and a negated one hold, the others do not; values
// listed for one key are alternatives.
func evalCondition(op, value string, present bool, values []string) (holds, understood bool) {
	base, ifExists := strings.CutSuffix(op, "IfExists")
	var match func(pattern string) bool
	negated := false
	switch base {
	case "StringEquals", "StringNotEquals":
		match = func(p string) bool { return p == value }
		negated = base == "StringNotEquals"
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		match = func(p string) bool { return strings.EqualFold(p, value) }
		negated = base == "StringNotEqualsIgnoreCase"
	case "StringLike", "StringNotLike":
		match = func(p string) bool { return wildcard(p, value) }
		negated = base == "StringNotLike"
	case "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike":
		match = func(p string) bool { return arnLike(p, value) }
		negated = base == "ArnNotEquals" || base == "ArnNotLike"
	case "Bool":
		match = func(p string) bool { return strings.EqualFold(p, value) }
	case "Null":
		if ifExists {
			return false, false
		}
		// Null true: the key is absent; Null false: it is present.
		return slices.ContainsFunc(values, func(v string) bool { return strings.EqualFold(v, "true") != present }), true
	default:
		return false, false
	}
	if !present {
		return ifExists || negated, true
	}
	matched := slices.ContainsFunc(values, match)
	return matched != negated, true
}

// arnLike compares an ARN with a pattern component by component, each with
// IAM's wildcards, as ArnEquals and ArnLike do.
func arnLike(pattern, arn string) bool {
	p, a := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
	if len(p) != 6 || len(a) != 6 {
		return false
	}
	for i := range p {
		if !wildcard(p[i], a[i]) {
			return false
		}
	}
	return true
}
