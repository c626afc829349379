// Package ddbtest is the one in-memory DynamoDB of the unit tests: the tables
// a test declares, the calls the stores make (PutItem, GetItem, UpdateItem,
// Query, DescribeTable) and the expressions they send, evaluated as DynamoDB
// evaluates them. It knows only what the stores send: a request it does not
// understand (an expression, a key, a table, an option) fails the test
// instead of being taken, so a changed request cannot pass unnoticed. How
// DynamoDB itself answers is for the integration tests.
package ddbtest

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// Item is one item, as the SDK passes it.
type Item = map[string]types.AttributeValue

// Table declares a table: its name, its partition key (a string attribute;
// the tables here have no sort key) and at most one index.
type Table struct {
	Name  string
	Key   string
	Index *Index
}

// Index is a sparse global secondary index projecting keys only: an item is
// in it while it has both Hash and Range.
type Index struct{ Name, Hash, Range string }

// DB is a DynamoDB client of some tables. It records the requests tests look
// at; with Err set, every call returns Err.
type DB struct {
	t      testing.TB
	tables map[string]*table

	Err     error
	Puts    []*dynamodb.PutItemInput
	Gets    []*dynamodb.GetItemInput
	Queries []*dynamodb.QueryInput
}

type table struct {
	Table
	items map[string]Item // by partition key value
}

// New returns a DB of the given tables, empty.
func New(t testing.TB, tables ...Table) *DB {
	db := &DB{t: t, tables: map[string]*table{}}
	for _, tb := range tables {
		db.tables[tb.Name] = &table{tb, map[string]Item{}}
	}
	return db
}

// Items returns the items of the named table by partition key value, for
// the test to read and write.
func (db *DB) Items(name string) map[string]Item {
	db.t.Helper()
	tb, ok := db.tables[name]
	if !ok {
		db.t.Fatalf("no table %s", name)
	}
	return tb.items
}

// Put stores record, marshalled by attributevalue, in the named table
// without a condition: the state a test starts from.
func (db *DB) Put(name string, record any) {
	db.t.Helper()
	items, tb := db.Items(name), db.tables[name]
	item, err := attributevalue.MarshalMap(record)
	if err != nil {
		db.t.Fatalf("put in %s: %v", name, err)
	}
	id, err := tb.key(Item{tb.Key: item[tb.Key]})
	if err != nil {
		db.t.Fatalf("put in %s: %v", name, err)
	}
	items[id] = item
}

// table returns the named table, or the error the call returns.
func (db *DB) table(op string, name *string) (*table, error) {
	if db.Err != nil {
		return nil, db.Err
	}
	tb, ok := db.tables[aws.ToString(name)]
	if !ok {
		db.t.Errorf("%s: no table %q", op, aws.ToString(name))
		return nil, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
	}
	return tb, nil
}

// invalid fails the test with a request DynamoDB would refuse, or the fake
// cannot evaluate, and returns it as DynamoDB's ValidationException.
func (db *DB) invalid(op string, err error) error {
	db.t.Errorf("%s: %v", op, err)
	return &smithy.GenericAPIError{Code: "ValidationException", Message: err.Error()}
}

// key returns the partition key value of key, which must name exactly it.
func (tb *table) key(key Item) (string, error) {
	id, ok := key[tb.Key].(*types.AttributeValueMemberS)
	if !ok || len(key) != 1 {
		return "", fmt.Errorf("key %v of %s: want the string attribute %s alone", key, tb.Name, tb.Key)
	}
	return id.Value, nil
}

// returns refuses ReturnValues other than those allowed.
func returns(rv types.ReturnValue, allowed ...types.ReturnValue) error {
	if rv != "" && rv != types.ReturnValueNone && !slices.Contains(allowed, rv) {
		return fmt.Errorf("fake cannot return %s", rv)
	}
	return nil
}

func conditionFailed() error {
	return &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
}

func (db *DB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	db.Puts = append(db.Puts, in)
	tb, err := db.table("PutItem", in.TableName)
	if err != nil {
		return nil, err
	}
	ex := newExpr(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	id, err := tb.key(Item{tb.Key: in.Item[tb.Key]})
	ok := false
	if err == nil {
		ok, err = ex.condition(aws.ToString(in.ConditionExpression), tb.items[id])
	}
	if err = firstErr(err, ex.allUsed, func() error { return returns(in.ReturnValues) }); err != nil {
		return nil, db.invalid("PutItem", err)
	}
	if !ok {
		return nil, conditionFailed()
	}
	tb.items[id] = maps.Clone(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

func (db *DB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	db.Gets = append(db.Gets, in)
	tb, err := db.table("GetItem", in.TableName)
	if err != nil {
		return nil, err
	}
	id, err := tb.key(in.Key)
	if err == nil && (in.ProjectionExpression != nil || in.ExpressionAttributeNames != nil) {
		err = fmt.Errorf("fake cannot project %q", aws.ToString(in.ProjectionExpression))
	}
	if err != nil {
		return nil, db.invalid("GetItem", err)
	}
	return &dynamodb.GetItemOutput{Item: maps.Clone(tb.items[id])}, nil
}

// UpdateItem creates a missing item, as DynamoDB does, unless its condition
// refuses.
func (db *DB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	tb, err := db.table("UpdateItem", in.TableName)
	if err != nil {
		return nil, err
	}
	ex := newExpr(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	id, err := tb.key(in.Key)
	old, exists := tb.items[id]
	updated := maps.Clone(old)
	if !exists {
		updated = maps.Clone(in.Key)
	}
	ok := false
	if err == nil {
		ok, err = ex.condition(aws.ToString(in.ConditionExpression), old)
	}
	// The update is evaluated whether or not the condition holds: DynamoDB
	// refuses a bad one either way.
	err = firstErr(err, func() error { return ex.update(aws.ToString(in.UpdateExpression), updated, tb.Key) }, ex.allUsed,
		func() error { return returns(in.ReturnValues, types.ReturnValueAllNew) })
	if err != nil {
		return nil, db.invalid("UpdateItem", err)
	}
	if !ok {
		return nil, conditionFailed()
	}
	tb.items[id] = updated
	out := &dynamodb.UpdateItemOutput{}
	if in.ReturnValues == types.ReturnValueAllNew {
		out.Attributes = maps.Clone(updated)
	}
	return out, nil
}

// firstErr returns err, or else the first error of the checks, run in order.
func firstErr(err error, checks ...func() error) error {
	for _, check := range checks {
		if err != nil {
			return err
		}
		err = check()
	}
	return err
}

// Query reads the table's index: the items that carry both its keys, in
// range key order, keys only, at most Limit of them.
func (db *DB) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	db.Queries = append(db.Queries, in)
	tb, err := db.table("Query", in.TableName)
	if err != nil {
		return nil, err
	}
	ix, kc := tb.Index, aws.ToString(in.KeyConditionExpression)
	ex := newExpr(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	switch {
	case ix == nil || aws.ToString(in.IndexName) != ix.Name:
		err = fmt.Errorf("no index %q on %s", aws.ToString(in.IndexName), tb.Name)
	case in.FilterExpression != nil || in.ProjectionExpression != nil || in.ExclusiveStartKey != nil || in.ScanIndexForward != nil:
		err = fmt.Errorf("fake queries keys only, forward, unfiltered, from the start")
	default:
		err = firstErr(ex.keyCondition(kc, ix), ex.allUsed)
	}
	if err != nil {
		return nil, db.invalid("Query", err)
	}
	var found []Item
	for _, it := range tb.items {
		if ok, _ := ex.condition(kc, it); ok && it[ix.Hash] != nil && it[ix.Range] != nil { // keyCondition checked kc
			found = append(found, Item{tb.Key: it[tb.Key], ix.Hash: it[ix.Hash], ix.Range: it[ix.Range]})
		}
	}
	slices.SortFunc(found, func(a, b Item) int {
		return cmpS(a[ix.Range], b[ix.Range])*2 + cmpS(a[tb.Key], b[tb.Key])
	})
	if in.Limit != nil && len(found) > int(*in.Limit) {
		found = found[:*in.Limit]
	}
	return &dynamodb.QueryOutput{Items: found, Count: int32(len(found))}, nil
}

func (db *DB) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	if _, err := db.table("DescribeTable", in.TableName); err != nil {
		return nil, err
	}
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{TableName: in.TableName, TableStatus: types.TableStatusActive}}, nil
}

// cmpS compares two string attributes.
func cmpS(a, b types.AttributeValue) int {
	x, _ := a.(*types.AttributeValueMemberS)
	y, _ := b.(*types.AttributeValueMemberS)
	if x == nil || y == nil {
		return 0
	}
	return strings.Compare(x.Value, y.Value)
}

// expr evaluates the expressions of one request against its attribute
// names and values, remembering which were used: DynamoDB refuses a request
// that leaves one unused.
type expr struct {
	names  map[string]string
	values map[string]types.AttributeValue
	used   map[string]bool
}

func newExpr(names map[string]string, values map[string]types.AttributeValue) *expr {
	return &expr{names: names, values: values, used: map[string]bool{}}
}

func (e *expr) name(tok string) (string, error) {
	if !strings.HasPrefix(tok, "#") {
		return tok, nil
	}
	n, ok := e.names[tok]
	if !ok {
		return "", fmt.Errorf("undefined attribute name %s", tok)
	}
	e.used[tok] = true
	return n, nil
}

func (e *expr) value(tok string) (types.AttributeValue, error) {
	v, ok := e.values[tok]
	if !ok {
		return nil, fmt.Errorf("undefined attribute value %s", tok)
	}
	e.used[tok] = true
	return v, nil
}

func (e *expr) allUsed() error {
	for _, k := range slices.Concat(slices.Sorted(maps.Keys(e.names)), slices.Sorted(maps.Keys(e.values))) {
		if !e.used[k] {
			return fmt.Errorf("%s is defined but unused in the expressions", k)
		}
	}
	return nil
}

var (
	existsTerm  = regexp.MustCompile(`^attribute_(not_)?exists\((#?\w+)\)$`)
	compareTerm = regexp.MustCompile(`^(#?\w+) (=|<>|<=|>=|<|>) (:\w+)$`)
)

// condition reports whether cond, terms joined by AND, holds for it (nil: no
// such item). An empty condition holds.
func (e *expr) condition(cond string, it Item) (bool, error) {
	if cond == "" {
		return true, nil
	}
	holds := true
	for term := range strings.SplitSeq(cond, " AND ") {
		if m := existsTerm.FindStringSubmatch(term); m != nil {
			n, err := e.name(m[2])
			if err != nil {
				return false, err
			}
			_, has := it[n]
			holds = holds && has == (m[1] == "")
			continue
		}
		m := compareTerm.FindStringSubmatch(term)
		if m == nil {
			return false, fmt.Errorf("fake cannot evaluate %q in %q", term, cond)
		}
		n, err := e.name(m[1])
		if err != nil {
			return false, err
		}
		v, err := e.value(m[3])
		if err != nil {
			return false, err
		}
		if _, ok := v.(*types.AttributeValueMemberS); !ok {
			return false, fmt.Errorf("fake compares strings only: %s in %q", m[3], cond)
		}
		// DynamoDB's comparison is false for a missing attribute or one of
		// another type than the value.
		_, isS := it[n].(*types.AttributeValueMemberS)
		c := cmpS(it[n], v)
		holds = holds && isS && map[string]bool{"=": c == 0, "<>": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[m[2]]
	}
	return holds, nil
}

// keyCondition checks that kc is a key condition on ix: equality on its
// hash key, then at most a comparison on its range key. It uses the values
// whether or not any item is evaluated, as DynamoDB does.
func (e *expr) keyCondition(kc string, ix *Index) error {
	terms := strings.Split(kc, " AND ")
	for i, term := range terms {
		m := compareTerm.FindStringSubmatch(term)
		if m == nil || i > 1 {
			return fmt.Errorf("fake cannot evaluate key condition %q", kc)
		}
		n, err := e.name(m[1])
		if err != nil {
			return err
		}
		if i == 0 && (n != ix.Hash || m[2] != "=") || i == 1 && (n != ix.Range || m[2] == "<>") {
			return fmt.Errorf("key condition %q does not match the key schema of %s (%s = :v, %s <op> :v)", kc, ix.Name, ix.Hash, ix.Range)
		}
		if _, err := e.value(m[3]); err != nil {
			return err
		}
	}
	return nil
}

var updateClause = regexp.MustCompile(`^SET (.+?)(?: REMOVE (.+))?$`)

// update applies "SET a = :x, b = :y REMOVE c, d" to it, leaving the key
// attribute alone.
func (e *expr) update(upd string, it Item, key string) error {
	m := updateClause.FindStringSubmatch(upd)
	if m == nil {
		return fmt.Errorf("fake cannot apply update %q", upd)
	}
	for set := range strings.SplitSeq(m[1], ", ") {
		lhs, rhs, _ := strings.Cut(set, " = ")
		n, err := e.name(lhs)
		if err == nil && n == key {
			err = fmt.Errorf("%s is part of the key", key)
		}
		if err == nil {
			it[n], err = e.value(rhs)
		}
		if err != nil {
			return fmt.Errorf("fake cannot apply %q in %q: %w", set, upd, err)
		}
	}
	if m[2] == "" {
		return nil
	}
	for rem := range strings.SplitSeq(m[2], ", ") {
		n, err := e.name(rem)
		if err != nil || n == key {
			return fmt.Errorf("cannot remove %q in %q", rem, upd)
		}
		delete(it, n)
	}
	return nil
}
