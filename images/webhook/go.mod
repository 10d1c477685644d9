module faultline.local/volume-webhook

go 1.24
