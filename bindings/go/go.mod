module github.com/libquic/libquic/bindings/go

go 1.19
