// Package problemstore keeps the problems function's items in opsloop's
// DynamoDB table (see package dynamodb for the table and its layout).
package problemstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/review"
)

// Store is the problems function's state in the table shared with the
// other functions: problem records, the relation index, the incident log
// the scheduled review reads, and the OpsItems' link items (a resolution
// that came before its incident was logged waits there; links written
// before OpsItems were described say which problem an OpsItem is of). It
// adds these items to the layout in the package comment:
//
//	pk                      sk                          attributes
//	prb#<key>               problem                     problem (packed JSON), version, token, status, rule, fingerprint,
//	                                                    gsi1pk = status, gsi1sk = lastSeen + "#" + key (problems only),
//	                                                    expiresAt (candidates only: lastSeen + recurrence window)
//	prbopsitem#<OpsItem id> link                        resolved, occurrences, flapping,      a resolution before its
//	                                                    expiresAt (before: key, opened)       log entry; old links
//	rel#<resource>          <related resource>          at, expiresAt                         relation index
//	rev#<ISO week>          <opened>#<OpsItem id>       incident (JSON), resolved,            incident log
//	                                                    occurrences, flapping, expiresAt
//	rev#sent                <review id>                 at, expiresAt                         reviews sent
//
// The ISO week is that of the incident's opening, in UTC ("2026-W06").
// Every write is a single-item put or update; a problem's Put is
// conditional on the version it read.
type Store struct {
	client dynamodb.API
	name   string
	table  *dynamodb.Table
	opts   Options
}

// Default lifetimes of the problems function's items.
const (
	// DefaultRelationTTL keeps relations well past the change log they
	// were learned from.
	DefaultRelationTTL = 90 * 24 * time.Hour
	// DefaultIncidentLogTTL keeps the incident log for reviews of up to a
	// year.
	DefaultIncidentLogTTL = 400 * 24 * time.Hour
)

// MaxRelated is how many related resources Related returns, the most
// recently related.
const MaxRelated = 50

// Options tune Problems; zero values take the defaults.
type Options struct {
	RelationTTL    time.Duration // default DefaultRelationTTL
	IncidentLogTTL time.Duration // default DefaultIncidentLogTTL
	// Now is the clock for expiry times; default time.Now.
	Now func() time.Time
}

var (
	_ problems.Store     = (*Store)(nil)
	_ problems.Relations = (*Store)(nil)
)

// NewProblems returns the problems state in the table named name, reached
// through client.
func New(client dynamodb.API, name string, opts Options) *Store {
	if opts.RelationTTL <= 0 {
		opts.RelationTTL = DefaultRelationTTL
	}
	if opts.IncidentLogTTL <= 0 {
		opts.IncidentLogTTL = DefaultIncidentLogTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{client: client, name: name, table: dynamodb.New(client, name, dynamodb.Options{Now: opts.Now}), opts: opts}
}

const (
	problemSK = "problem"
	linkSK    = "link"
	// oldLogSK is the OpsItem's index into the incident log, written
	// before links said when the incident opened; read for those only.
	oldLogSK = "rev"
	sentPK   = "rev#sent"
)

func problemPK(key string) string         { return "prb#" + key }
func opsItemPK(id string) string          { return "prbopsitem#" + id }
func relationPK(res string) string        { return "rel#" + res }
func weekPK(t time.Time) string           { return "rev#" + ISOWeek(t) }
func statusSK(p *problems.Problem) string { return dynamodb.TimeKey(p.LastSeen) + "#" + p.Key }

// ISOWeek names the ISO 8601 week of t in UTC, as the incident log's
// partitions do: "2026-W06".
func ISOWeek(t time.Time) string {
	y, w := t.UTC().ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// Get implements problems.Store with a strongly consistent read.
func (s *Store) Get(ctx context.Context, key string) (*problems.Problem, error) {
	item, err := s.get(ctx, dynamodb.Key(problemPK(key), problemSK), "get problem "+key)
	if err != nil || item == nil {
		return nil, err
	}
	p, err := decodeProblem(item)
	if err != nil {
		return nil, fmt.Errorf("get problem %s: %w", key, err)
	}
	return p, nil
}

func decodeProblem(item map[string]types.AttributeValue) (*problems.Problem, error) {
	var p problems.Problem
	if err := dynamodb.Unpack(item, "problem", &p); err != nil {
		return nil, fmt.Errorf("decode problem: %w", err)
	}
	v, err := dynamodb.NumberAttr(item, "version")
	if err != nil {
		return nil, err
	}
	p.Version = v
	return &p, nil
}

// Put implements problems.Store: a PutItem with the condition
// attribute_not_exists(pk) for version 0 and version = p.Version
// otherwise, storing version p.Version+1; a failed condition is
// problems.ErrConflict. A put the SDK retried after it had in fact
// succeeded still succeeds: the item carries a token unique to this call.
func (s *Store) Put(ctx context.Context, p *problems.Problem) error {
	stored := p.Clone()
	stored.Version = p.Version + 1
	packed, err := dynamodb.Packed(stored)
	if err != nil {
		return fmt.Errorf("put problem %s: %w", p.Key, err)
	}
	item := map[string]types.AttributeValue{
		"problem": packed,
		"status":  dynamodb.Str(string(p.Status)), "rule": dynamodb.Str(p.Rule), "fingerprint": dynamodb.Str(p.Fingerprint),
	}
	if p.IsProblem() {
		// Only problems are in the status index: a candidate's write,
		// one for every new incident, is then one write and not two.
		item[dynamodb.StatusIndexPartitionKey], item[dynamodb.StatusIndexSortKey] = dynamodb.Str(string(p.Status)), dynamodb.Str(statusSK(p))
	} else {
		window := p.Recurrence.Window()
		if window <= 0 {
			window = problems.DefaultRecurrence.Window()
		}
		item[dynamodb.TTLAttribute] = dynamodb.EpochSeconds(dynamodb.Later(p.LastSeen, s.opts.Now()).Add(window))
	}
	err = s.putVersioned(ctx, dynamodb.Key(problemPK(p.Key), problemSK), item, p.Version, "put problem "+p.Key)
	if errors.Is(err, errConflict) {
		return fmt.Errorf("put problem %s over version %d: %w", p.Key, p.Version, problems.ErrConflict)
	}
	return err
}

var errConflict = errors.New("version changed")

// putVersioned puts item at k if the stored version is version (0: no item
// may exist), as version+1; it returns errConflict otherwise. A put the
// SDK retried after it had in fact succeeded still succeeds: the item
// carries a token unique to this call.
func (s *Store) putVersioned(ctx context.Context, k map[string]types.AttributeValue, item map[string]types.AttributeValue, version int64, op string) error {
	next, token := version+1, dynamodb.NewToken()
	item[dynamodb.PartitionKey], item[dynamodb.SortKey] = k[dynamodb.PartitionKey], k[dynamodb.SortKey]
	item["version"], item["token"] = dynamodb.Num(next), dynamodb.Str(token)
	in := &awsdynamodb.PutItemInput{TableName: aws.String(s.name), Item: item}
	if version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": dynamodb.PartitionKey}
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeNames = map[string]string{"#v": "version"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": dynamodb.Num(version)}
	}
	_, err := s.client.PutItem(ctx, in)
	if err == nil {
		return nil
	}
	if !dynamodb.ConditionFailed(err) {
		return fmt.Errorf("%s: %w", op, err)
	}
	now, err := s.get(ctx, k, op)
	if err != nil {
		return err
	}
	if v, _ := dynamodb.NumberAttr(now, "version"); now != nil && v == next && dynamodb.StringAttr(now, "token") == token {
		return nil
	}
	return errConflict
}

// List implements problems.Store with a Query of the dynamodb.StatusIndex, which is
// eventually consistent: a record written a moment ago may be listed as it
// was before. Records come the most recently seen first, then by key.
func (s *Store) List(ctx context.Context, status problems.Status) ([]problems.Problem, error) {
	var out []problems.Problem
	op := fmt.Sprintf("list %s problems", status)
	each := func(item map[string]types.AttributeValue) error {
		p, err := decodeProblem(item)
		if err == nil {
			out = append(out, *p)
		}
		return err
	}
	var err error
	if status == problems.Candidate {
		err = s.scanStatus(ctx, op, problemPK(""), problemSK, string(status), each)
	} else {
		err = s.byStatus(ctx, op, string(status), each)
	}
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b problems.Problem) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}

// byStatus queries the status index's partition pk.
// scanStatus reads the items of status whose keys are pkPrefix… and sk,
// which the status index leaves out to save their writes a second unit:
// it scans the table, for tools only, never on a function's path.
func (s *Store) scanStatus(ctx context.Context, op, pkPrefix, sk, status string, each func(map[string]types.AttributeValue) error) error {
	return s.table.Scan(ctx, op, &awsdynamodb.ScanInput{
		FilterExpression:         aws.String("begins_with(#pk, :pk) AND #sk = :sk AND #st = :st"),
		ExpressionAttributeNames: map[string]string{"#pk": dynamodb.PartitionKey, "#sk": dynamodb.SortKey, "#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": dynamodb.Str(pkPrefix), ":sk": dynamodb.Str(sk), ":st": dynamodb.Str(status),
		},
	}, each)
}

func (s *Store) byStatus(ctx context.Context, op, pk string, each func(map[string]types.AttributeValue) error) error {
	return s.table.QueryIndex(ctx, op, &awsdynamodb.QueryInput{
		IndexName:                 aws.String(dynamodb.StatusIndex),
		KeyConditionExpression:    aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": dynamodb.StatusIndexPartitionKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": dynamodb.Str(pk)},
	}, func(item map[string]types.AttributeValue) error {
		if err := each(item); err != nil {
			return fmt.Errorf("%s: %w", dynamodb.StringAttr(item, dynamodb.PartitionKey), err)
		}
		return nil
	})
}

// Link implements problems.Store: links were written at each opening
// before OpsItems were described (problems.OpsItems), and last a year.
func (s *Store) Link(ctx context.Context, opsItemID string) (string, error) {
	item, err := s.get(ctx, dynamodb.Key(opsItemPK(opsItemID), linkSK), "link of OpsItem "+opsItemID)
	if err != nil || item == nil {
		return "", err
	}
	return dynamodb.StringAttr(item, "key"), nil
}

// Relate implements problems.Relations: one item per pair, whose time only
// moves forward, so relating again or out of order changes nothing.
func (s *Store) Relate(ctx context.Context, resource string, related []string, t time.Time) error {
	exp := dynamodb.EpochSeconds(dynamodb.Later(t, s.opts.Now()).Add(s.opts.RelationTTL))
	for _, r := range related {
		if r == "" || r == resource {
			continue
		}
		_, err := s.client.UpdateItem(ctx, &awsdynamodb.UpdateItemInput{
			TableName: aws.String(s.name), Key: dynamodb.Key(relationPK(resource), r),
			UpdateExpression:         aws.String("SET #at = :at, #exp = :exp"),
			ConditionExpression:      aws.String("attribute_not_exists(#at) OR #at < :at"),
			ExpressionAttributeNames: map[string]string{"#at": "at", "#exp": dynamodb.TTLAttribute},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":at": dynamodb.Str(dynamodb.TimeKey(t)), ":exp": exp,
			},
		})
		if err != nil && !dynamodb.ConditionFailed(err) {
			return fmt.Errorf("relate %s to %s: %w", resource, r, err)
		}
	}
	return nil
}

// Related implements problems.Relations: at most MaxRelated resources, the
// most recently related first.
func (s *Store) Related(ctx context.Context, resource string) ([]string, error) {
	type rel struct{ res, at string }
	var rs []rel
	err := s.table.Query(ctx, "related to "+resource, &awsdynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": dynamodb.PartitionKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": dynamodb.Str(relationPK(resource))},
	}, func(item map[string]types.AttributeValue) error {
		rs = append(rs, rel{dynamodb.StringAttr(item, dynamodb.SortKey), dynamodb.StringAttr(item, "at")})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(rs, func(a, b rel) int {
		if c := strings.Compare(b.at, a.at); c != 0 {
			return c
		}
		return strings.Compare(a.res, b.res)
	})
	out := make([]string, 0, min(len(rs), MaxRelated))
	for _, r := range rs[:min(len(rs), MaxRelated)] {
		out = append(out, r.res)
	}
	return out, nil
}

// LogOpened keeps an opened incident in the incident log of its opening's
// ISO week, for the review. Logging it again changes nothing, and a
// resolution logged before it (events arrive in any order), which waits on
// the OpsItem's link item, is applied: the log writes one item, and reads
// the link item.
func (s *Store) LogOpened(ctx context.Context, inc review.Incident) error {
	id := inc.OpsItemID
	if id == "" {
		id = "fp:" + inc.Fingerprint
	}
	opened := inc
	opened.Resolved, opened.Occurrences, opened.Flapping = time.Time{}, 0, false
	data, err := json.Marshal(opened)
	if err != nil {
		return fmt.Errorf("log incident %s: %w", id, err)
	}
	exp := dynamodb.EpochSeconds(dynamodb.Later(inc.Opened, s.opts.Now()).Add(s.opts.IncidentLogTTL))
	lk := logKey(inc.Opened, id)
	// The log item first, then the OpsItem's link is read: a resolution
	// that updates the link after this read finds the item.
	_, err = s.client.UpdateItem(ctx, &awsdynamodb.UpdateItemInput{
		TableName: aws.String(s.name), Key: lk,
		UpdateExpression:         aws.String("SET #inc = :inc, #exp = :exp"),
		ExpressionAttributeNames: map[string]string{"#inc": "incident", "#exp": dynamodb.TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":inc": dynamodb.Str(string(data)), ":exp": exp,
		},
	})
	if err != nil {
		return fmt.Errorf("log incident %s: %w", id, err)
	}
	if inc.OpsItemID == "" {
		return nil
	}
	link, err := s.get(ctx, dynamodb.Key(opsItemPK(inc.OpsItemID), linkSK), "log incident "+id)
	if err != nil {
		return err
	}
	if res := resolutionOf(link); res != nil {
		_, _, err := s.resolveLogEntry(ctx, lk, *res, "log incident "+id)
		return err
	}
	return nil
}

// LogResolved records an incident's resolution in the incident log. first
// reports whether the log had no resolution of the OpsItem before, and inc
// is the incident as logged (Opened is zero while its opening is not
// logged yet). The first resolution's time is kept; occurrences and
// flapping come from opsloop's own "Incident Resolved" whenever it brings
// them, since OpsCenter's events have neither.
//
// A resolution that says when its incident opened (r.Opened; see
// problems.Complete) updates the log entry itself, one write. Otherwise,
// or when the entry is not logged yet, it waits on the OpsItem's link item,
// where LogOpened finds it, and a link written before says when the
// incident opened.
func (s *Store) LogResolved(ctx context.Context, r problems.Resolution) (inc review.Incident, first bool, err error) {
	op := "log resolution of " + r.OpsItemID
	res := logResolution{resolved: r.Resolved, occurrences: r.Occurrences, flapping: r.Flapping}
	if !r.Opened.IsZero() {
		old, ok, err := s.resolveLogEntry(ctx, logKey(r.Opened, r.OpsItemID), res, op)
		if err != nil {
			return review.Incident{}, false, err
		}
		if ok {
			inc, first = loggedResolution(r, res, old)
			return inc, first, nil
		}
	}
	expr := "SET #res = if_not_exists(#res, :res), #exp = if_not_exists(#exp, :exp)"
	names := map[string]string{"#res": "resolved", "#exp": dynamodb.TTLAttribute}
	values := map[string]types.AttributeValue{
		":res": dynamodb.Str(dynamodb.TimeKey(r.Resolved)),
		":exp": dynamodb.EpochSeconds(dynamodb.Later(r.Resolved, s.opts.Now()).Add(s.opts.IncidentLogTTL)),
	}
	if r.Occurrences > 0 || r.Flapping {
		expr += ", #occ = :occ, #flap = :flap"
		names["#occ"], names["#flap"] = "occurrences", "flapping"
		values[":occ"], values[":flap"] = dynamodb.Num(int64(r.Occurrences)), &types.AttributeValueMemberBOOL{Value: r.Flapping}
	}
	out, err := s.client.UpdateItem(ctx, &awsdynamodb.UpdateItemInput{
		TableName: aws.String(s.name), Key: dynamodb.Key(opsItemPK(r.OpsItemID), linkSK),
		UpdateExpression: aws.String(expr), ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return review.Incident{}, false, fmt.Errorf("%s: %w", op, err)
	}
	old := out.Attributes
	inc, first = loggedResolution(r, res, old)
	var lk map[string]types.AttributeValue
	if t, err := time.Parse(dynamodb.SortTime, dynamodb.StringAttr(old, "opened")); err == nil {
		inc.Opened, lk = t, logKey(t, r.OpsItemID)
	} else if lk, inc.Opened, err = s.oldLogIndex(ctx, r.OpsItemID, op); err != nil {
		return inc, first, err
	}
	if lk == nil {
		return inc, first, nil // not opened yet: LogOpened applies it
	}
	if _, _, err := s.resolveLogEntry(ctx, lk, res, op); err != nil {
		return inc, first, err
	}
	return inc, first, nil
}

// loggedResolution is the incident as a resolution leaves it, given what
// the item it was applied to held before (its incident's opening too, when
// that is the log entry): the first resolution's time is kept, and so are
// occurrences and flapping unless r brings them.
func loggedResolution(r problems.Resolution, res logResolution, old map[string]types.AttributeValue) (review.Incident, bool) {
	prev := resolutionOf(old)
	if prev != nil {
		res.resolved = prev.resolved
		if r.Occurrences == 0 && !r.Flapping {
			res.occurrences, res.flapping = prev.occurrences, prev.flapping
		}
	}
	inc := review.Incident{OpsItemID: r.OpsItemID, Fingerprint: r.Fingerprint}
	if data := dynamodb.StringAttr(old, "incident"); data != "" && json.Unmarshal([]byte(data), &inc) != nil {
		inc = review.Incident{OpsItemID: r.OpsItemID, Fingerprint: r.Fingerprint}
	}
	inc.Resolved, inc.Occurrences, inc.Flapping = res.resolved, res.occurrences, res.flapping
	return inc, prev == nil
}

// logKey is the key of the incident log's entry of the OpsItem id, opened
// at opened.
func logKey(opened time.Time, id string) map[string]types.AttributeValue {
	return dynamodb.Key(weekPK(opened), dynamodb.TimeKey(opened)+"#"+id)
}

// oldLogIndex finds the log entry of an OpsItem logged before links said
// when the incident opened, through the index item written then; nil when
// there is none.
func (s *Store) oldLogIndex(ctx context.Context, id, op string) (map[string]types.AttributeValue, time.Time, error) {
	item, err := s.get(ctx, dynamodb.Key(opsItemPK(id), oldLogSK), op)
	if err != nil {
		return nil, time.Time{}, err
	}
	lpk, lsk := dynamodb.StringAttr(item, "logpk"), dynamodb.StringAttr(item, "logsk")
	if lpk == "" || lsk == "" {
		return nil, time.Time{}, nil
	}
	opened, _ := time.Parse(dynamodb.SortTime, dynamodb.StringAttr(item, "opened"))
	return dynamodb.Key(lpk, lsk), opened, nil
}

type logResolution struct {
	resolved    time.Time
	occurrences int
	flapping    bool
}

// resolutionOf reads the resolution an item holds, nil when none.
func resolutionOf(item map[string]types.AttributeValue) *logResolution {
	t, err := time.Parse(dynamodb.SortTime, dynamodb.StringAttr(item, "resolved"))
	if err != nil {
		return nil
	}
	r := &logResolution{resolved: t}
	if n, err := dynamodb.NumberAttr(item, "occurrences"); err == nil {
		r.occurrences = int(n)
	}
	if b, ok := item["flapping"].(*types.AttributeValueMemberBOOL); ok {
		r.flapping = b.Value
	}
	return r
}

// resolveLogEntry applies a resolution to a log entry that exists, and
// returns what the entry held before; ok is false when there is no entry
// (not logged yet, or expired), which is not an error.
// Occurrences and flapping are set only when r has them: OpsCenter's
// resolution, without, leaves opsloop's.
func (s *Store) resolveLogEntry(ctx context.Context, k map[string]types.AttributeValue, r logResolution, op string) (old map[string]types.AttributeValue, ok bool, err error) {
	in := &awsdynamodb.UpdateItemInput{
		TableName: aws.String(s.name), Key: k,
		UpdateExpression:          aws.String("SET #res = if_not_exists(#res, :res)"),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  map[string]string{"#pk": dynamodb.PartitionKey, "#res": "resolved"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":res": dynamodb.Str(dynamodb.TimeKey(r.resolved))},
		ReturnValues:              types.ReturnValueAllOld,
	}
	if r.occurrences > 0 || r.flapping {
		in.UpdateExpression = aws.String(*in.UpdateExpression + ", #occ = :occ, #flap = :flap")
		in.ExpressionAttributeNames["#occ"], in.ExpressionAttributeNames["#flap"] = "occurrences", "flapping"
		in.ExpressionAttributeValues[":occ"] = dynamodb.Num(int64(r.occurrences))
		in.ExpressionAttributeValues[":flap"] = &types.AttributeValueMemberBOOL{Value: r.flapping}
	}
	out, err := s.client.UpdateItem(ctx, in)
	if dynamodb.ConditionFailed(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", op, err)
	}
	return out.Attributes, true, nil
}

// Incidents returns the logged incidents opened within [from, to], oldest
// first, with their resolutions.
func (s *Store) Incidents(ctx context.Context, from, to time.Time) ([]review.Incident, error) {
	if to.Before(from) {
		return nil, fmt.Errorf("incidents from %s to %s: the period ends before it starts", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	var out []review.Incident
	for _, week := range weeks(from, to) {
		err := s.table.Query(ctx, "incidents of "+week, &awsdynamodb.QueryInput{
			KeyConditionExpression:   aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
			ExpressionAttributeNames: map[string]string{"#pk": dynamodb.PartitionKey, "#sk": dynamodb.SortKey},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": dynamodb.Str("rev#" + week), ":lo": dynamodb.Str(dynamodb.TimeKey(from)), ":hi": dynamodb.Str(dynamodb.TimeKey(to) + "$"),
			},
		}, func(item map[string]types.AttributeValue) error {
			data := dynamodb.StringAttr(item, "incident")
			if data == "" {
				// Only a resolution reached an item that had expired: nothing to show.
				return nil
			}
			var inc review.Incident
			if err := json.Unmarshal([]byte(data), &inc); err != nil {
				return fmt.Errorf("decode incident %s: %w", dynamodb.StringAttr(item, dynamodb.SortKey), err)
			}
			if r := resolutionOf(item); r != nil {
				inc.Resolved, inc.Occurrences, inc.Flapping = r.resolved, r.occurrences, r.flapping
			}
			out = append(out, inc)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(out, func(a, b review.Incident) int { return a.Opened.Compare(b.Opened) })
	return out, nil
}

// weeks names the ISO weeks that [from, to] touches, in order.
func weeks(from, to time.Time) []string {
	from, to = from.UTC(), to.UTC()
	// Monday 00:00 of from's week.
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	day = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	var out []string
	for ; !day.After(to); day = day.AddDate(0, 0, 7) {
		out = append(out, ISOWeek(day))
	}
	return out
}

// ReviewSent reports whether the review id was marked as sent.
func (s *Store) ReviewSent(ctx context.Context, id string) (bool, error) {
	item, err := s.get(ctx, dynamodb.Key(sentPK, id), "review "+id)
	return item != nil && item["at"] != nil, err
}

// ClaimReview implements lambdafn.ReviewMarks with a conditional write: the
// review's item is written with the claim's end unless the review was sent
// or another claim lasts beyond at.
func (s *Store) ClaimReview(ctx context.Context, id string, at, until time.Time) (bool, error) {
	item := dynamodb.Key(sentPK, id)
	item["until"] = dynamodb.Str(dynamodb.TimeKey(until))
	item[dynamodb.TTLAttribute] = dynamodb.EpochSeconds(dynamodb.Later(at, s.opts.Now()).Add(s.opts.IncidentLogTTL))
	_, err := s.client.PutItem(ctx, &awsdynamodb.PutItemInput{
		TableName: aws.String(s.name), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR (attribute_not_exists(#at) AND #until < :at)"),
		ExpressionAttributeNames:  map[string]string{"#pk": dynamodb.PartitionKey, "#at": "at", "#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": dynamodb.Str(dynamodb.TimeKey(at))},
	})
	if dynamodb.ConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim review %s: %w", id, err)
	}
	return true, nil
}

// ReleaseReview implements lambdafn.ReviewMarks: the claim is deleted unless
// the review was sent meanwhile.
func (s *Store) ReleaseReview(ctx context.Context, id string) error {
	_, err := s.client.DeleteItem(ctx, &awsdynamodb.DeleteItemInput{
		TableName: aws.String(s.name), Key: dynamodb.Key(sentPK, id),
		ConditionExpression:      aws.String("attribute_not_exists(#at)"),
		ExpressionAttributeNames: map[string]string{"#at": "at"},
	})
	if err != nil && !dynamodb.ConditionFailed(err) {
		return fmt.Errorf("release review %s: %w", id, err)
	}
	return nil
}

// MarkReviewSent records that the review id was sent at, so that a
// redelivery of its schedule does not send it again.
func (s *Store) MarkReviewSent(ctx context.Context, id string, at time.Time) error {
	item := dynamodb.Key(sentPK, id)
	item["at"] = dynamodb.Str(dynamodb.TimeKey(at))
	item[dynamodb.TTLAttribute] = dynamodb.EpochSeconds(dynamodb.Later(at, s.opts.Now()).Add(s.opts.IncidentLogTTL))
	if _, err := s.client.PutItem(ctx, &awsdynamodb.PutItemInput{TableName: aws.String(s.name), Item: item}); err != nil {
		return fmt.Errorf("mark review %s sent: %w", id, err)
	}
	return nil
}

func (s *Store) get(ctx context.Context, k map[string]types.AttributeValue, op string) (map[string]types.AttributeValue, error) {
	return s.table.Item(ctx, k, op)
}
