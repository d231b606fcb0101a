module github.com/asset-cache/asset-cache/bindings/go

go 1.19
