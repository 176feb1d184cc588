module libquic.test/binding

go 1.19
