package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/opsloop/opsloop/internal/repotest"
)

// TestInitOnce reads each function's main package: the AWS config is loaded
// by exactly one call, made at init (in a function main calls, not in a
// closure a handler could run), and lambda.Start is called once. The
// end-to-end tests count the rest at run time: one GetParametersByPath per
// classifier instance, none before its first event.
func TestInitOnce(t *testing.T) {
	root := repotest.Root(t)
	for _, name := range functionNames {
		t.Run(name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, filepath.Join(root, "functions", name, "main.go"), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			local := map[string]string{} // import path -> name in the file
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				n := filepath.Base(path)
				if imp.Name != nil {
					n = imp.Name.Name
				}
				local[path] = n
			}
			// calls counts calls of pkgPath's fn, or with pkgPath "", of the
			// method fn on any variable.
			calls := func(pkgPath, fn string) (top, inClosure int) {
				pkg := local[pkgPath]
				var walk func(n ast.Node, depth int)
				walk = func(n ast.Node, depth int) {
					ast.Inspect(n, func(n ast.Node) bool {
						switch n := n.(type) {
						case *ast.FuncLit:
							walk(n.Body, depth+1)
							return false
						case *ast.CallExpr:
							if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == fn {
								if id, ok := sel.X.(*ast.Ident); ok && (pkgPath == "" || pkg != "" && id.Name == pkg) {
									if depth == 0 {
										top++
									} else {
										inClosure++
									}
								}
							}
						}
						return true
					})
				}
				walk(f, 0)
				return top, inClosure
			}
			for _, c := range []struct{ pkg, fn string }{
				{"", "AWSConfig"}, // lambdaenv.Env's, from the Lambda environment
				{"github.com/aws/aws-lambda-go/lambda", "Start"},
			} {
				top, closure := calls(c.pkg, c.fn)
				call := c.fn
				if c.pkg != "" {
					call = filepath.Base(c.pkg) + "." + c.fn
				}
				if top != 1 || closure != 0 {
					t.Errorf("functions/%s/main.go calls %s %d times at init and %d times in closures, want once at init",
						name, call, top, closure)
				}
			}
		})
	}
}
