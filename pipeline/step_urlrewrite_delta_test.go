package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
)

// TestURLRewriteStreamRefusesTheKafkaSink: with sink: kafka the destination
// database holds shiplog's state alone, where the follower cannot keep
// url_rewrite (and apply --from-kafka runs no follower): a blocking
// integrity problem naming the remedies, before any database is read (none
// here: a query would panic).
func TestURLRewriteStreamRefusesTheKafkaSink(t *testing.T) {
	r := &Runtime{cfg: &config.Config{Sink: "kafka"}}
	r.dest = newDestination(r)
	s := &urlRewriteStep{r: r}
	problems, err := s.integrityStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !problems[0].Blocking || !strings.Contains(problems[0].Msg, "sink: mysql") || !strings.Contains(problems[0].Msg, "data mode only") {
		t.Errorf("problems %+v, want one blocking problem naming sink: mysql and data mode only", problems)
	}
	if s.shadow != nil {
		t.Error("the rewrites' copy was planned with sink: kafka")
	}
}

// TestURLRewriteFollowerFollows: the tables the follower reads (names as
// follows gets them: without the destination prefix, lower case), and its
// shadow table's DDL keeps each column's type, charset and nullability.
func TestURLRewriteFollowerFollows(t *testing.T) {
	f := &urlRewriteFollower{}
	for table, want := range map[string]bool{
		"_shiplog_core_url_rewrite": true, "catalog_product_entity": true, "catalog_category_entity": true,
		"cms_page": true, "cms_page_store": true, "url_rewrite": false, "catalog_url_rewrite_product_category": false,
		"core_url_rewrite": false, "cms_block": false,
	} {
		if got := f.follows(table); got != want {
			t.Errorf("follows(%s) = %v, want %v", table, got, want)
		}
	}
	ddl := urlRewriteShadowDDL(&cdc.Table{Schema: "m2", Name: urlRewriteShadow, Columns: []cdc.Column{
		{Name: "url_rewrite_id", ColumnType: "int(10) unsigned"},
		{Name: "request_path", ColumnType: "varchar(255)", Charset: "utf8mb3", Nullable: true},
		{Name: "store_id", ColumnType: "smallint(5) unsigned"},
	}})
	for _, w := range []string{"`m2`.`_shiplog_core_url_rewrite`", "`url_rewrite_id` int(10) unsigned NOT NULL", "`request_path` varchar(255) CHARACTER SET utf8mb3 NULL",
		"`store_id` smallint(5) unsigned NOT NULL", "PRIMARY KEY (`url_rewrite_id`)", "KEY `request_path` (`request_path`)"} {
		if !strings.Contains(ddl, w) {
			t.Errorf("%s lacks %s", ddl, w)
		}
	}
}
