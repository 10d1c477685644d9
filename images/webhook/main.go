// volume-webhook: the validating admission webhook of the webhook-blocks-deletion scenario's storage system.
// Like a storage operator's webhook, it writes its own ValidatingWebhookConfiguration when it starts (rules and
// caBundle, by server-side apply), so restarting it regenerates the configuration. It allows every request and
// logs one line for each: the scenario is about what the API server does when the webhook cannot be called.
// Standard library only, so the forge builds it offline.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

type review struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID       string `json:"uid"`
		Operation string `json:"operation"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		Resource  struct {
			Resource string `json:"resource"`
		} `json:"resource"`
	} `json:"request,omitempty"`
	Response *struct {
		UID     string `json:"uid"`
		Allowed bool   `json:"allowed"`
	} `json:"response,omitempty"`
}

func validate(w http.ResponseWriter, r *http.Request) {
	var in review
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil || in.Request == nil {
		http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	q := in.Request
	log.Printf("%s %s %s/%s: allowed", q.Operation, q.Resource.Resource, q.Namespace, q.Name)
	out := review{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}
	out.Response = &struct {
		UID     string `json:"uid"`
		Allowed bool   `json:"allowed"`
	}{UID: q.UID, Allowed: true}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

type rule struct {
	APIGroups   []string `json:"apiGroups"`
	APIVersions []string `json:"apiVersions"`
	Operations  []string `json:"operations"`
	Resources   []string `json:"resources"`
	Scope       string   `json:"scope"`
}

// register applies the webhook configuration: one webhook, one rule block per resource the storage system owns.
func register(config, group, namespace, service string, resources []string, caPEM []byte) error {
	rules := []rule{}
	for _, res := range resources {
		rules = append(rules, rule{[]string{group}, []string{"*"}, []string{"CREATE", "UPDATE", "DELETE"}, []string{res}, "Namespaced"})
	}
	fail, none, timeout := "Fail", "None", 10
	body, _ := json.Marshal(map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1",
		"kind":       "ValidatingWebhookConfiguration",
		"metadata":   map[string]any{"name": config},
		"webhooks": []map[string]any{{
			"name":                    "validator." + group,
			"admissionReviewVersions": []string{"v1"},
			"clientConfig": map[string]any{
				"caBundle": base64.StdEncoding.EncodeToString(caPEM),
				"service":  map[string]any{"namespace": namespace, "name": service, "path": "/validate", "port": 443},
			},
			"rules":          rules,
			"failurePolicy":  fail,
			"sideEffects":    none,
			"timeoutSeconds": timeout,
		}},
	})
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		return err
	}
	apiCA, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(apiCA)
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := fmt.Sprintf("https://%s:%s/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/%s?fieldManager=volume-webhook&force=true",
		os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"), config)
	req, _ := http.NewRequest(http.MethodPatch, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/apply-patch+yaml")
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("apply %s: HTTP %d: %s", config, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

type list []string

func (l *list) String() string     { return fmt.Sprint(*l) }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	tlsDir := flag.String("tls", "/tls", "folder with tls.crt, tls.key and ca.crt")
	config := flag.String("config", "", "name of the ValidatingWebhookConfiguration to write")
	group := flag.String("group", "", "API group of the resources")
	service := flag.String("service", "", "the Service in front of this server")
	listen := flag.String("listen", ":8443", "address to serve on")
	var resources list
	flag.Var(&resources, "resource", "a resource to validate (repeatable)")
	flag.Parse()
	namespace, _ := os.ReadFile(saDir + "/namespace")
	caPEM, err := os.ReadFile(*tlsDir + "/ca.crt")
	if err != nil {
		log.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(*tlsDir+"/tls.crt", *tlsDir+"/tls.key")
	if err != nil {
		log.Fatal(err)
	}
	if *config != "" {
		if err := register(*config, *group, string(bytes.TrimSpace(namespace)), *service, resources, caPEM); err != nil {
			log.Fatal(err)
		}
		log.Printf("applied ValidatingWebhookConfiguration %s (%d rule blocks)", *config, len(resources))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/validate", validate)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	log.Printf("serving on %s", *listen)
	log.Fatal(srv.ListenAndServeTLS("", ""))
}
