module github.com/vggnb/vggnb

go 1.26

require github.com/scigolib/hdf5 v0.14.0
