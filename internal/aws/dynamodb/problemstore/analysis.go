package problemstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/aws/dynamodb"
)

// Post-incident analyses are items of their own:
//
//	pk                 sk        attributes
//	pia#<OpsItem id>   analysis  analysis (packed JSON), version, token, status,
//	                             gsi1pk = "pia#" + status, gsi1sk = first event + "#" + OpsItem id
//	                             (open and done analyses only),
//	                             expiresAt (done analyses only: IncidentLogTTL after closing)
//
// The status index's partitions of analyses are prefixed, so they never
// mix with the problems' ("open" is a status of both).

var _ analysis.Store = (*Store)(nil)

const analysisSK = "analysis"

func analysisPK(id string) string                { return "pia#" + id }
func analysisStatusPK(st analysis.Status) string { return "pia#" + string(st) }

// GetAnalysis implements analysis.Store with a strongly consistent read.
func (s *Store) GetAnalysis(ctx context.Context, opsItemID string) (*analysis.Analysis, error) {
	op := "get analysis of " + opsItemID
	item, err := s.get(ctx, dynamodb.Key(analysisPK(opsItemID), analysisSK), op)
	if err != nil || item == nil {
		return nil, err
	}
	a, err := decodeAnalysis(item)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return a, nil
}

func decodeAnalysis(item map[string]types.AttributeValue) (*analysis.Analysis, error) {
	var a analysis.Analysis
	if err := dynamodb.Unpack(item, "analysis", &a); err != nil {
		return nil, fmt.Errorf("decode analysis: %w", err)
	}
	v, err := dynamodb.NumberAttr(item, "version")
	if err != nil {
		return nil, err
	}
	a.Version = v
	return &a, nil
}

// PutAnalysis implements analysis.Store, as Put does for problems.
func (s *Store) PutAnalysis(ctx context.Context, a *analysis.Analysis) error {
	op := "put analysis of " + a.OpsItemID
	stored := a.Clone()
	stored.Version = a.Version + 1
	packed, err := dynamodb.Packed(stored)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	item := map[string]types.AttributeValue{"analysis": packed, "status": dynamodb.Str(string(a.Status))}
	if a.Status != analysis.Tracking {
		// A tracked analysis (its incident still open, which is when it
		// is written most) is left out of the index: one write unit,
		// not two; only tools list those.
		item[dynamodb.StatusIndexPartitionKey] = dynamodb.Str(analysisStatusPK(a.Status))
		item[dynamodb.StatusIndexSortKey] = dynamodb.Str(dynamodb.TimeKey(a.FirstEvent) + "#" + a.OpsItemID)
	}
	if a.Status == analysis.Done {
		item[dynamodb.TTLAttribute] = dynamodb.EpochSeconds(dynamodb.Later(a.Closed, s.opts.Now()).Add(s.opts.IncidentLogTTL))
	}
	err = s.putVersioned(ctx, dynamodb.Key(analysisPK(a.OpsItemID), analysisSK), item, a.Version, op)
	if errors.Is(err, errConflict) {
		return fmt.Errorf("%s over version %d: %w", op, a.Version, analysis.ErrConflict)
	}
	return err
}

// ListAnalyses implements analysis.Store with a Query of the status index
// (eventually consistent), the most recent incident first; tracked ones,
// not in the index, with a scan.
func (s *Store) ListAnalyses(ctx context.Context, status analysis.Status) ([]analysis.Analysis, error) {
	var out []analysis.Analysis
	op := fmt.Sprintf("list %s analyses", status)
	each := func(item map[string]types.AttributeValue) error {
		a, err := decodeAnalysis(item)
		if err == nil {
			out = append(out, *a)
		}
		return err
	}
	var err error
	if status == analysis.Tracking {
		err = s.scanStatus(ctx, op, analysisPK(""), analysisSK, string(status), each)
	} else {
		err = s.byStatus(ctx, op, analysisStatusPK(status), each)
	}
	if err != nil {
		return nil, err
	}
	analysis.Sort(out)
	return out, nil
}
