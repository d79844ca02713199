// Package pattern compiles Amazon EventBridge event patterns and matches
// events against them with EventBridge's own semantics, so that a rule tested
// here behaves the same once deployed.
//
// Supported: exact strings, numbers, booleans and null; prefix and suffix
// (also with equals-ignore-case); equals-ignore-case; wildcard; anything-but
// (a value, a list, or prefix, suffix, equals-ignore-case or wildcard);
// numeric comparisons and ranges; exists; cidr (IPv4 and IPv6); "$or"; nested
// objects and dot-joined keys ({"a": {"b": [..]}} is {"a.b": [..]}).
//
// The matching rules follow EventBridge and the event-ruler library it is
// built on:
//   - a field matches if any of its values matches any listed condition; an
//     array in the event offers each element as a value;
//   - a missing field matches nothing but {"exists": false}; anything-but
//     needs a value to be present, and accepts values of other types (null,
//     numbers for a string list);
//   - numbers compare by value (300, 300.0 and 3.0e2 are equal); a string
//     never equals a number;
//   - exact strings that are IP addresses match any spelling of the address;
//   - values taken from one array of objects must come from the same
//     element (array consistency);
//   - a key that appears twice in a pattern keeps its last definition.
//
// Compile rejects what EventBridge rejects, with an *Error naming the field.
// A Set indexes many patterns so that matching an event costs little more
// with a thousand patterns than with ten.
package pattern
