module faultline.local/query-engine

go 1.24
